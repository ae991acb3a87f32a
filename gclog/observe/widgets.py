"""The state of the widgets a run created, for the executed notebook, as nbclient writes it.

nbclient keeps, per comm, the ``state`` its ``comm_open`` and ``comm_msg`` messages carry (and
their binary buffers, base64), and writes the models among them to the notebook's
``metadata.widgets`` in the widget-state schema, so that a rendered notebook shows the widgets.
When the run created none, the input's ``metadata.widgets`` is left as it was, as nbclient does.
"""

from __future__ import annotations

import base64
from typing import Any

MIME = "application/vnd.jupyter.widget-state+json"


class WidgetState:
    def __init__(self) -> None:
        self._state: dict[str, dict[str, Any]] = {}
        self._buffers: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {}

    def handle(self, msg: dict[str, Any]) -> None:
        """A ``comm_open`` or ``comm_msg`` from a cell; messages without a state are custom."""
        content = msg.get("content") or {}
        data = content.get("data")
        comm_id = content.get("comm_id")
        if not isinstance(data, dict) or not isinstance(data.get("state"), dict) or not comm_id:
            return
        self._state.setdefault(comm_id, {}).update(data["state"])
        paths = data.get("buffer_paths") or []
        buffers = msg.get("buffers") or []
        for path, buffer in zip(paths, buffers, strict=False):
            if isinstance(path, list):
                self._buffers.setdefault(comm_id, {})[tuple(map(str, path))] = {
                    "data": base64.b64encode(bytes(buffer)).decode("ascii"),
                    "encoding": "base64",
                    "path": path,
                }

    def metadata(self) -> dict[str, Any] | None:
        """The notebook's ``metadata.widgets``; None when no widget was created."""
        if not self._state:
            return None
        state: dict[str, Any] = {}
        for model_id, values in self._state.items():
            if "_model_name" not in values:
                continue
            state[model_id] = {
                "model_name": values.get("_model_name"),
                "model_module": values.get("_model_module"),
                "model_module_version": values.get("_model_module_version"),
                "state": values,
            }
            if self._buffers.get(model_id):
                state[model_id]["buffers"] = list(self._buffers[model_id].values())
        return {MIME: {"state": state, "version_major": 2, "version_minor": 0}}
