"""Flowers102 from torchvision's layout: ``<root>/flowers-102/{jpg/, imagelabels.mat,
setid.mat}``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ._matlab import loadmat
from .utils import check_integrity, download_and_extract_archive, download_url, verify_str_arg
from .vision import VisionDataset

__all__ = ["Flowers102"]


class Flowers102(VisionDataset):
    """`Oxford 102 Flower <https://www.robots.ox.ac.uk/~vgg/data/flowers/102/>`_: splits
    ``train``, ``val``, ``test``; items are ``(RGB PIL image, label in 0..101)``."""

    _download_url_prefix = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"
    _file_dict = {
        "image": ("102flowers.tgz", "52808999861908f626f3c1f4e79d11fa"),
        "label": ("imagelabels.mat", "e0620be6f572b9609742df49c70aed4d"),
        "setid": ("setid.mat", "a5357ecc9cb78c4bef273ce3793fc85c"),
    }
    _splits_map = {"train": "trnid", "val": "valid", "test": "tstid"}

    def __init__(self, root: str | os.PathLike, split: str = "train",
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        self._base_folder = Path(self.root) / "flowers-102"
        self._images_folder = self._base_folder / "jpg"
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError(
                "Dataset not found or corrupted. You can use download=True to download it")
        set_ids = loadmat(self._base_folder / self._file_dict["setid"][0], squeeze_me=True)
        image_ids = set_ids[self._splits_map[self._split]].reshape(-1).tolist()
        labels = loadmat(self._base_folder / self._file_dict["label"][0], squeeze_me=True)
        image_id_to_label = dict(enumerate((labels["labels"].reshape(-1) - 1).tolist(), 1))
        self._labels = [int(image_id_to_label[int(i)]) for i in image_ids]
        self._image_files = [self._images_folder / f"image_{int(i):05d}.jpg" for i in image_ids]

    def __len__(self) -> int:
        return len(self._image_files)

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        from PIL import Image

        image = Image.open(self._image_files[idx]).convert("RGB")
        label = self._labels[idx]
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label

    def extra_repr(self) -> str:
        return f"split={self._split}"

    def _check_integrity(self) -> bool:
        if not (self._images_folder.exists() and self._images_folder.is_dir()):
            return False
        return all(check_integrity(str(self._base_folder / self._file_dict[k][0]),
                                   self._file_dict[k][1]) for k in ("label", "setid"))

    def download(self) -> None:
        """Downloads the image tarball and the two ``.mat`` files (MD5-checked)."""
        if self._check_integrity():
            return
        download_and_extract_archive(
            f"{self._download_url_prefix}{self._file_dict['image'][0]}", str(self._base_folder),
            md5=self._file_dict["image"][1])
        for k in ("label", "setid"):
            filename, md5 = self._file_dict[k]
            download_url(self._download_url_prefix + filename, str(self._base_folder), md5=md5)
