"""``VisionDataset``: the base of ember's vision datasets (root, transforms, torchvision's repr)."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.utils.data import Dataset
from .utils import check_integrity, download_and_extract_archive

__all__ = ["VisionDataset", "StandardTransform"]


class VisionDataset(Dataset):
    """Holds ``root``, ``transform``/``target_transform`` (or a joint ``transforms``) and prints
    like torchvision's datasets."""

    _repr_indent = 4

    def __init__(self, root: str | os.PathLike | None = None, transforms: Callable | None = None,
                 transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        if isinstance(root, str):
            root = os.path.expanduser(root)
        self.root = root
        has_transforms = transforms is not None
        has_separate_transform = transform is not None or target_transform is not None
        if has_transforms and has_separate_transform:
            raise ValueError(
                "Only transforms or transform/target_transform can be passed as argument")
        self.transform = transform
        self.target_transform = target_transform
        if has_separate_transform:
            transforms = StandardTransform(transform, target_transform)
        self.transforms = transforms

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __repr__(self) -> str:
        head = "Dataset " + self.__class__.__name__
        body = [f"Number of datapoints: {self.__len__()}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if getattr(self, "transforms", None) is not None:
            body += [repr(self.transforms)]
        return "\n".join([head] + [" " * self._repr_indent + line for line in body])

    def extra_repr(self) -> str:
        return ""

    def _apply_transforms(self, sample: Any, target: Any) -> tuple[Any, Any]:
        """``(transform(sample), target_transform(target))``, each where set: torchvision's
        datasets apply the two themselves, not ``transforms``."""
        return _apply(self.transform, self.target_transform, sample, target)


class _Tarball:
    """A dataset shipped as one tarball (``url``, ``filename``, ``tgz_md5``) whose files, the
    ``[name, md5]`` pairs of ``train_list + test_list``, extract to ``root/base_folder``."""

    root: Any
    base_folder: str
    url: str
    filename: str
    tgz_md5: str
    train_list: list
    test_list: list

    def _check_integrity(self) -> bool:
        return all(check_integrity(os.path.join(self.root, self.base_folder, name), md5)
                   for name, md5 in self.train_list + self.test_list)

    def _download_tarball(self) -> None:
        """Downloads the tarball (MD5-checked) and extracts it into ``root``, unless the files
        are there already."""
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename,
                                     md5=self.tgz_md5)


def _apply(transform: Callable | None, target_transform: Callable | None, input: Any,
           target: Any) -> tuple[Any, Any]:
    if transform is not None:
        input = transform(input)
    if target_transform is not None:
        target = target_transform(target)
    return input, target


def _format_transform_repr(transform: Callable, head: str) -> list[str]:
    lines = repr(transform).splitlines()
    return [f"{head}{lines[0]}"] + [" " * len(head) + line for line in lines[1:]]


class StandardTransform:
    """Applies ``transform`` to the input and ``target_transform`` to the target."""

    def __init__(self, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, input: Any, target: Any) -> tuple[Any, Any]:
        return _apply(self.transform, self.target_transform, input, target)

    def __repr__(self) -> str:
        body = [self.__class__.__name__]
        if self.transform is not None:
            body += _format_transform_repr(self.transform, "Transform: ")
        if self.target_transform is not None:
            body += _format_transform_repr(self.target_transform, "Target transform: ")
        return "\n".join(body)
