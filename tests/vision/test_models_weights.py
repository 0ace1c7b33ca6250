"""The weights API (enums, registry, deprecated ``pretrained=``) and loading torchvision-format
checkpoints from the hub cache, offline."""
from __future__ import annotations

import copy
import functools
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

from helpers import torch_or_skip

import ember
from ember import nn
from ember.vision import models
from ember.vision.models import ResNet18_Weights, ResNet50_Weights
from ember.vision.transforms._presets import ImageClassification

ALL_MODELS = ["resnet101", "resnet152", "resnet18", "resnet34", "resnet50", "resnext101_32x8d",
              "resnext101_64x4d", "resnext50_32x4d", "wide_resnet101_2", "wide_resnet50_2"]

# torchvision's deprecation texts (handle_legacy_interface / kwonly_to_pos_or_kw), for parity
PRETRAINED_DEPRECATED = ("The parameter 'pretrained' is deprecated since 0.13 and may be removed "
                         "in the future, please use 'weights' instead.")
POSITIONAL_DEPRECATED = ("Using 'weights' as positional parameter(s) is deprecated since 0.13 and "
                         "may be removed in the future. Please use keyword parameter(s) instead.")


def _other_than_enum(equivalent: str, default: str | None = None) -> str:
    msg = ("Arguments other than a weight enum or `None` for 'weights' are deprecated since 0.13 "
           "and may be removed in the future. The current behavior is equivalent to passing "
           f"`weights={equivalent}`.")
    if default:
        msg += f" You can also use `weights={default}` to get the most up-to-date weights."
    return msg


def _messages(record) -> list[str]:
    return [str(w.message) for w in record]


# ---- enums -----------------------------------------------------------------------------------

def test_weights_enum_members_and_repr():
    w = ResNet18_Weights.IMAGENET1K_V1
    assert repr(w) == "ResNet18_Weights.IMAGENET1K_V1"
    assert str(w) == "ResNet18_Weights.IMAGENET1K_V1"
    assert ResNet18_Weights.DEFAULT is w  # an alias, not a copy
    assert list(ResNet18_Weights) == [w]
    assert ResNet50_Weights.DEFAULT is ResNet50_Weights.IMAGENET1K_V2
    assert list(ResNet50_Weights) == [ResNet50_Weights.IMAGENET1K_V1,
                                      ResNet50_Weights.IMAGENET1K_V2]
    assert isinstance(w, models.WeightsEnum) and isinstance(w.value, models.Weights)
    assert w.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert (ResNet50_Weights.IMAGENET1K_V2.url
            == "https://download.pytorch.org/models/resnet50-11ad3fa6.pth")


@pytest.mark.parametrize("name", ALL_MODELS)
def test_weights_meta(name):
    for w in models.get_model_weights(name):
        meta = w.meta
        assert w.url.startswith("https://download.pytorch.org/models/" + name.split("_")[0])
        assert len(meta["categories"]) == 1000 and len(set(meta["categories"])) == 1000
        assert meta["min_size"] == (1, 1)
        acc = meta["_metrics"]["ImageNet-1K"]
        assert 60 < acc["acc@1"] < acc["acc@5"] < 100
        assert meta["num_params"] > 1e7 and meta["_ops"] > 1 and meta["_file_size"] > 40
        assert meta["recipe"].startswith("https://github.com/pytorch/vision")
        assert isinstance(meta["_docs"], str) and meta["_docs"].strip()


def test_categories_are_imagenet_in_index_order():
    cats = ResNet18_Weights.DEFAULT.meta["categories"]
    # well-known indices of the ImageNet-1K class list
    assert (cats[0], cats[1], cats[207], cats[281], cats[409], cats[999]) == (
        "tench", "goldfish", "golden retriever", "tabby", "analog clock", "toilet tissue")


def test_transforms_presets():
    v1, v2 = ResNet50_Weights.IMAGENET1K_V1, ResNet50_Weights.IMAGENET1K_V2
    assert isinstance(v1.transforms, functools.partial)
    assert v1.transforms.func is ImageClassification
    assert v1.transforms.keywords == {"crop_size": 224}
    assert v2.transforms.keywords == {"crop_size": 224, "resize_size": 232}
    preset = ResNet18_Weights.DEFAULT.transforms()
    assert isinstance(preset, ImageClassification)


def test_verify():
    assert ResNet18_Weights.verify(None) is None
    w = ResNet18_Weights.IMAGENET1K_V1
    assert ResNet18_Weights.verify(w) is w
    assert ResNet18_Weights.verify("IMAGENET1K_V1") is w
    assert ResNet18_Weights.verify("DEFAULT") is w
    v2 = ResNet50_Weights.IMAGENET1K_V2
    assert ResNet50_Weights.verify("ResNet50_Weights.IMAGENET1K_V2") is v2
    with pytest.raises(TypeError, match="^Invalid Weight class provided; expected ResNet18_Weights "
                                        "but received ResNet50_Weights.$"):
        ResNet18_Weights.verify(ResNet50_Weights.DEFAULT)
    with pytest.raises(KeyError):
        ResNet18_Weights.verify("IMAGENET1K_V9")


def test_weights_copy_and_pickle_keep_identity():
    w = ResNet50_Weights.IMAGENET1K_V2
    assert copy.deepcopy(w) is w and copy.copy(w) is w
    assert pickle.loads(pickle.dumps(w)) is w


def test_weights_dataclass_equality_compares_partials_by_content():
    a = models.Weights("u", functools.partial(ImageClassification, crop_size=224), {"x": 1})
    b = models.Weights("u", functools.partial(ImageClassification, crop_size=224), {"x": 1})
    assert a == b
    assert a != models.Weights("u", functools.partial(ImageClassification, crop_size=7), {"x": 1})
    assert a != models.Weights("v", a.transforms, {"x": 1})


# ---- registry --------------------------------------------------------------------------------

def test_list_models():
    assert set(ALL_MODELS) <= set(models.list_models())
    assert models.list_models(module=models) == sorted(models.list_models(module=models))
    assert set(ALL_MODELS) <= set(models.list_models(module=models))
    assert models.list_models(module=ember.vision) == []  # only builders defined in that package
    assert models.list_models(include="resnet*") == ["resnet101", "resnet152", "resnet18",
                                                     "resnet34", "resnet50"]
    assert models.list_models(include=["resnet1*", "wide*"]) == [
        "resnet101", "resnet152", "resnet18", "wide_resnet101_2", "wide_resnet50_2"]
    assert models.list_models(include="resnet*", exclude=["*1*", "resnet5?"]) == ["resnet34"]
    assert models.list_models(include="nothing*") == []


def test_get_model_and_builder(monkeypatch):
    for fn in ("kaiming_normal_", "kaiming_uniform_", "uniform_"):
        monkeypatch.setattr(nn.init, fn, lambda t, *a, **k: t)
    model = models.get_model("ResNet34", num_classes=3)  # names are case-insensitive
    assert isinstance(model, models.ResNet) and model.fc.out_features == 3
    assert len(model.layer3) == 6
    assert models.get_model_builder("resnext50_32x4d") is models.resnext50_32x4d
    with pytest.raises(ValueError, match="^Unknown model vgg99$"):
        models.get_model("vgg99")


def test_get_model_weights_and_get_weight():
    assert models.get_model_weights("resnet50") is ResNet50_Weights
    assert models.get_model_weights(models.resnet18) is ResNet18_Weights
    assert models.get_model_weights("wide_resnet50_2") is models.Wide_ResNet50_2_Weights
    assert models.get_weight("ResNet50_Weights.IMAGENET1K_V2") is ResNet50_Weights.IMAGENET1K_V2
    assert models.get_weight("ResNet18_Weights.DEFAULT") is ResNet18_Weights.IMAGENET1K_V1
    with pytest.raises(ValueError, match=r"^Invalid weight name provided: 'resnet18'\.$"):
        models.get_weight("resnet18")
    with pytest.raises(ValueError, match="^The weight enum 'VGG_Weights' for the specific method "
                                         "couldn't be retrieved.$"):
        models.get_weight("VGG_Weights.IMAGENET1K_V1")
    with pytest.raises(KeyError):
        models.get_weight("ResNet18_Weights.NOPE")
    with pytest.raises(ValueError, match="missing the 'weights' argument"):
        models.get_model_weights(lambda x: x)


def test_register_model_refuses_duplicates():
    from ember.vision.models._api import register_model

    with pytest.raises(ValueError,
                       match="^An entry is already registered under the name 'resnet18'.$"):
        register_model()(models.resnet18)


# ---- builder semantics without a download ------------------------------------------------------

def test_num_classes_must_match_the_weights():
    # Checked before anything is downloaded, so this needs no network.
    with pytest.raises(ValueError, match="^The parameter 'num_classes' expected value 1000 but "
                                         "got 10 instead.$"):
        models.resnet18(weights="DEFAULT", num_classes=10)
    with pytest.raises(ValueError, match="^The parameter 'groups' expected value 32 but got 8 "
                                         "instead.$"):
        models.resnext50_32x4d(groups=8)


def test_wrong_weights_type():
    with pytest.raises(TypeError, match="expected ResNet18_Weights but received ResNet50_Weights"):
        models.resnet18(weights=ResNet50_Weights.DEFAULT)


def test_pretrained_false_is_weights_none():
    with pytest.warns(UserWarning) as record:
        model = models.resnet18(pretrained=False, num_classes=5)
    assert _messages(record) == [PRETRAINED_DEPRECATED, _other_than_enum("None")]
    assert model.fc.out_features == 5


def test_positional_false_warns_like_torchvision():
    with pytest.warns(UserWarning) as record:
        models.resnet18(False)
    assert _messages(record) == [POSITIONAL_DEPRECATED, _other_than_enum("None")]
    with pytest.warns(UserWarning) as record:
        models.resnet18(False, False)
    assert _messages(record)[0] == POSITIONAL_DEPRECATED.replace(
        "'weights'", "'weights' and 'progress'")


def test_modern_calls_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models.resnet18()
        models.resnet18(weights=None, progress=False)


def test_builders_keep_names_and_docs():
    assert models.resnet18.__name__ == "resnet18"
    assert "ResNet18_Weights" in models.resnet18.__doc__
    assert models.resnet50.__module__ == "ember.vision.models.resnet"


# ---- loading torchvision-format checkpoints from the cache ------------------------------------

@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty ember and torch caches; any attempt to download fails the test."""
    ember_home, torch_home = tmp_path / "ember", tmp_path / "torch"
    monkeypatch.setenv("EMBER_HOME", str(ember_home))
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    import ember.hub

    monkeypatch.setattr(ember.hub, "_hub_dir", None, raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(ember.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(ember.hub, "_download", no_network, raising=False)
    return ember_home / "hub" / "checkpoints", torch_home / "hub" / "checkpoints"


def _torch_checkpoint(torch, folder, legacy: bool):
    """A resnet18 state dict saved by real torch under the official file name. ``legacy``: like
    the real resnet18-f37072fd.pth, no num_batches_tracked entries and no _metadata."""
    import _torch_resnet as tr

    model = tr.build("resnet18")
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, v in model.state_dict().items():
            if name.endswith("running_var"):
                v.copy_(torch.rand(v.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                v.copy_(torch.randn(v.shape, generator=g) * 0.1)
    state = model.state_dict()
    if legacy:
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / "resnet18-f37072fd.pth")
    return model.eval()


def _same_logits(torch, e_model, t_model):
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = t_model(torch.tensor(x)).numpy()
    got = e_model.eval()(ember.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_pretrained_true_loads_cached_torchvision_checkpoint(caches):
    """The tutorial's line, `torchvision.models.resnet18(pretrained=True)`, offline."""
    torch = torch_or_skip()
    ember_cache, _ = caches
    t_model = _torch_checkpoint(torch, ember_cache, legacy=False)
    import ember.vision as torchvision

    with pytest.warns(UserWarning) as record:
        model = torchvision.models.resnet18(pretrained=True)
    assert _messages(record) == [
        PRETRAINED_DEPRECATED,
        _other_than_enum("ResNet18_Weights.IMAGENET1K_V1", "ResNet18_Weights.DEFAULT")]
    _same_logits(torch, model, t_model)
    assert int(model.state_dict()["bn1.num_batches_tracked"]) == int(
        t_model.state_dict()["bn1.num_batches_tracked"])


def test_legacy_checkpoint_from_torch_cache_loads(caches):
    """No num_batches_tracked, no _metadata (a plain dict), found in PyTorch's own cache."""
    torch = torch_or_skip()
    _, torch_cache = caches
    t_model = _torch_checkpoint(torch, torch_cache, legacy=True)
    model = models.resnet18(weights=ResNet18_Weights.DEFAULT, progress=False)
    _same_logits(torch, model, t_model)
    assert int(model.state_dict()["bn1.num_batches_tracked"]) == 0
    with pytest.warns(UserWarning) as record:
        positional = models.resnet18(True)
    assert _messages(record) == [
        POSITIONAL_DEPRECATED,
        _other_than_enum("ResNet18_Weights.IMAGENET1K_V1", "ResNet18_Weights.DEFAULT")]
    _same_logits(torch, positional, t_model)


def test_get_state_dict_passes_hub_arguments(caches, tmp_path):
    torch = torch_or_skip()
    t_model = _torch_checkpoint(torch, tmp_path / "elsewhere", legacy=False)
    sd = ResNet18_Weights.IMAGENET1K_V1.get_state_dict(model_dir=str(tmp_path / "elsewhere"),
                                                       progress=False, check_hash=True)
    assert list(sd) == list(t_model.state_dict())
    np.testing.assert_array_equal(np.asarray(sd["fc.bias"].numpy()),
                                  t_model.fc.bias.detach().numpy())


def test_tutorial_with_pretrained_weights(caches):
    torch = torch_or_skip()
    ember_cache, _ = caches
    _torch_checkpoint(torch, ember_cache, legacy=True)
    model = models.resnet18(weights="IMAGENET1K_V1")
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(512, 10)
    model(ember.rand(2, 3, 32, 32)).sum().backward()
    with_grad = [n for n, p in model.named_parameters() if p.grad is not None]
    assert with_grad == ["fc.weight", "fc.bias"]


# ---- optional extras ---------------------------------------------------------------------------

def test_import_without_pillow_or_sklearn():
    code = ("import sys\n"
            "sys.modules['PIL'] = None\nsys.modules['sklearn'] = None\n"
            "import ember.vision as torchvision\n"
            "m = torchvision.models.resnet18(num_classes=2)\n"
            "print(type(m).__name__, torchvision.models.ResNet18_Weights.DEFAULT.url)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "ResNet", "https://download.pytorch.org/models/resnet18-f37072fd.pth"]


def test_vision_package_surface():
    import ember.vision as torchvision

    assert torchvision.models is models
    assert isinstance(torchvision.__version__, str)
    assert set(models.__all__) >= {"ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet152",
                                   "ResNet152_Weights", "get_model", "get_model_weights",
                                   "get_weight", "list_models", "Weights", "WeightsEnum"}
    assert all(hasattr(models, name) for name in models.__all__)
