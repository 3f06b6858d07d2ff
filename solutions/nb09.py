"""Notebook 09, saving and loading: loading for inference, stripping a prefix, an atomic save."""

import os
from pathlib import Path

import torch


def load_for_inference(path, model):
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return checkpoint["epoch"]


def strip_prefix(state_dict, prefix):
    return {key.removeprefix(prefix): value for key, value in state_dict.items()}


def save_atomically(obj, path):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")                    # same folder: os.replace cannot cross disks
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)                                    # atomic: the old file or the new one, whole
    finally:
        tmp.unlink(missing_ok=True)


SOLUTIONS = {"09.1": load_for_inference, "09.2": strip_prefix, "09.3": save_atomically}


def _load_whole_file(path, model):
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
    return 0


def _load_without_eval(path, model):
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])
    return checkpoint["epoch"]


def _load_without_map_location(path, model):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return checkpoint["epoch"]


def _strip_with_replace(state_dict, prefix):
    return {key.replace(prefix, ""): value for key, value in state_dict.items()}


def _save_in_place(obj, path):
    torch.save(obj, path)


def _save_leaving_tmp(obj, path):
    tmp = Path(path).with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _strip_with_lstrip(state_dict, prefix):
    return {key.lstrip(prefix): value for key, value in state_dict.items()}


def _strip_in_place(state_dict, prefix):
    for key in list(state_dict):
        state_dict[key.removeprefix(prefix)] = state_dict.pop(key)
    return state_dict


def _load_positional(path, model):
    checkpoint = torch.load(path, "cpu", weights_only=True)    # map_location, given by position
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return checkpoint["epoch"]


def _strip_cloning(state_dict, prefix):
    return {key.removeprefix(prefix): value.clone() for key, value in state_dict.items()}


def _strip_replace_once(state_dict, prefix):
    return {key.replace(prefix, "", 1): value for key, value in state_dict.items()}


MISTAKES = {
    "09.1": [
        (_load_whole_file, "checkpoint[\"model\"]"),
        (_load_without_eval, "model.eval()"),
        (_load_without_map_location, "was called without `map_location`"),
    ],
    "09.2": [
        (_strip_with_replace, "removeprefix"),
        (_strip_with_lstrip, "`lstrip` removes any"),
        (_strip_in_place, "the caller\'s dict changed"),
        (_strip_replace_once, "must stay as it is"),
    ],
    "09.3": [(_save_in_place, "no longer loads"), (_save_leaving_tmp, "left ['last.tmp'] behind")],
}

#: Correct answers written another way: the checks must accept them too.
ALTERNATIVES = {
    "09.1": [_load_positional],
    "09.2": [_strip_cloning],
}
