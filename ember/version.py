"""``torch.version``: the torch release whose API ember follows, and what it was built with."""
from __future__ import annotations

__all__ = ["__version__", "cuda", "hip", "xpu", "debug", "git_version", "TorchVersion", "ember"]


class TorchVersion(str):
    """A version string that compares with strings and tuples by release numbers, as torch's
    (``ember.__version__ >= "2.0"``, ``>= (2, 1)``)."""

    @staticmethod
    def _key(v: object) -> tuple:
        # (release numbers without trailing zeros, local part): "2.13.0+x" sorts after "2.13"
        import re  # on first comparison: `import ember` stays free of it

        if isinstance(v, tuple):
            parts, local = [int(p) for p in v], ""
        else:
            m = re.fullmatch(r"\s*v?(\d+(?:\.\d+)*)(?:\+([\w.]+))?\s*", str(v))
            if m is None:
                raise ValueError(f"Invalid version: {v!r}")
            parts, local = [int(p) for p in m.group(1).split(".")], m.group(2) or ""
        while parts and parts[-1] == 0:
            parts.pop()
        return tuple(parts), local

    def __lt__(self, other: object) -> bool:
        return self._key(self) < self._key(other)

    def __le__(self, other: object) -> bool:
        return self._key(self) <= self._key(other)

    def __gt__(self, other: object) -> bool:
        return self._key(self) > self._key(other)

    def __ge__(self, other: object) -> bool:
        return self._key(self) >= self._key(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (str, tuple)):
            return NotImplemented
        try:
            return self._key(self) == self._key(other)
        except ValueError:
            return False

    __hash__ = str.__hash__


ember = "0.1.0"  # ember's own release
# torch's API version, with ember's release as the local part: programs that gate on
# ``torch.__version__ >= "2.0"`` take their current branch
__version__ = TorchVersion(f"2.13.0+ember.{ember}")
cuda: str | None = None
hip: str | None = None
xpu: str | None = None
rocm: str | None = None
debug = False
git_version = "Unknown"
