"""Checkpoints of any state pytree with orbax: save every N steps, keep the latest few,
restore exactly. Orbax writes each checkpoint to a temporary folder and renames it when
complete, so a crash or Ctrl-C during a save leaves the previous checkpoint intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

__all__ = ["Checkpointer"]


class Checkpointer:
    """Keeps the latest ``max_to_keep`` checkpoints of a pytree under ``directory``."""

    def __init__(self, directory: str | Path, max_to_keep: int = 3):
        if max_to_keep < 1:
            raise ValueError(f"max_to_keep={max_to_keep}; allowed: >= 1")
        self.directory = Path(directory).absolute()
        self._mngr = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))

    def save(self, step: int, tree: Any) -> None:
        """Save ``tree`` as checkpoint ``step`` and wait until it is on disk."""
        self._mngr.save(int(step), args=ocp.args.StandardSave(tree))
        self._mngr.wait_until_finished()

    def latest_step(self) -> int | None:
        return self._mngr.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._mngr.all_steps())

    def restore(self, like: Any, step: int | None = None) -> Any:
        """Restore checkpoint ``step`` (default: latest) into the structure of ``like``."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        abstract = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype) if not hasattr(x, "sharding")
            else jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), like)
        try:
            return self._mngr.restore(step, args=ocp.args.StandardRestore(abstract))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"checkpoint {self.directory}/{step} does not match the expected "
                             f"state structure (a checkpoint of another config?): {e}") from None

    def close(self) -> None:
        self._mngr.close()
