"""What every layer family shares: the ``Layer`` base class, ``InputLayer``/``Input``, and helpers.

There is no autograd: a layer's ``forward(x, training)`` calls ``fastann.ops`` and keeps what its backward
needs (only when ``training``); ``backward(grad_output)`` calls the matching ``ops.*_backward``, stores the
parameter gradients in ``layer.grads`` (same keys as ``layer.params``) and returns the gradient with respect
to its input (None when ``need_input_grad`` is False: the model turns it off for the first layers, whose
input gradient nobody uses; the first Dense then skips a whole GEMM).

Layers build lazily: the first input fixes the per-sample input shape (``x.shape[1:]``), the dtype (float32,
or float64 for gradient checks) and the array module ``layer.xp`` (NumPy, or CuPy for the CUDA backend); all
parameter arrays are created through that module, so a layer never mixes devices. Subclasses override
``_build(input_shape, rng)`` (create parameters with ``add_weight``), ``compute_output_shape``, ``forward``
and ``backward``; that is all a new layer needs to plug into ``Sequential``.

Helpers for the families (each family module imports only this one of the layers modules):

* activations: ``ACTIVATIONS``, ``check_activation``, ``activation_forward``, ``activation_backward``
  (Dense, Activation and the convolutions apply the same named activations);
* images: ``ImageLayer``, ``data_format_arg``, ``image_shape``, ``padding_arg``, ``same_pads``.

Image layout, as Keras: every image layer takes ``data_format`` ("channels_last", (N, H, W, C), or
"channels_first", (N, C, H, W)); None (the default) reads ``fastann.config.image_data_format()``, which is
"channels_last" unless the user changed it. A 2-D per-sample shape (H, W) is ONE channel in both formats,
i.e. (N, H, W, 1) / (N, 1, H, W) (a view, no copy), so ``Conv2D(32, 3)`` takes Fashion-MNIST's (N, 28, 28)
images as they are. Layers that change the channel count (the convolutions, global pooling) return 4-D (or
2-D) outputs; layers that keep the channels (pooling, upsampling, padding, cropping) keep a 3-D input's
rank. Gradients come back in the input's shape. ``input_shape``, ``output_shape`` and
``compute_output_shape`` are in the layer's ``data_format``.

The kernels (``fastann.ops``) are NCHW. An ``ImageLayer`` computes in NCHW; a channels_last layer converts
at its boundary (NHWC -> NCHW on the way in, back on the way out, and the gradient likewise), unless the
model told it that its neighbour already speaks NCHW (``_nchw_in`` / ``_nchw_out``, set by
``fastann.models._layout``): inside a model, a run of channels_last image layers passes NCHW arrays between
its layers and converts once at the run's entry and once at its exit. A layer called on its own
(``layer(x)``) always converts at its own boundary.

Padding names follow Keras: ``"valid"`` (none) and ``"same"`` (output ceil(H / stride); the total padding is
split with the smaller half first, as TensorFlow does); Conv2D also takes an int or a pair (symmetric).
"""
from __future__ import annotations

import copy
import itertools
import numbers
import warnings
from collections import defaultdict

import numpy as np

from .. import _device, _serialize, constraints, initializers, regularizers
from .._config_args import record_init
from . import _config
from .._args.common import is_cupy
from ._activations import (ACTIVATIONS, activation_backward, activation_forward, check_activation,  # noqa: F401
                           keras_activation_params)
from ._image_args import DATA_FORMATS, data_format_arg, image_shape, padding_arg, same_pads  # noqa: F401
from .symbolic import KerasTensor, Node, flatten, is_symbolic

__all__ = ["Layer", "Input", "InputLayer", "KerasTensor", "link_masks", "ACTIVATIONS", "check_activation",
           "activation_forward",
           "activation_backward", "keras_activation_params",
           "ImageLayer", "data_format_arg", "image_shape", "padding_arg", "same_pads"]

_name_counters: dict = defaultdict(itertools.count)


def _auto_name(prefix: str) -> str:
    i = next(_name_counters[prefix])
    return prefix if i == 0 else f"{prefix}_{i}"


def _array_module(x):
    if is_cupy(x):
        import cupy  # noqa: PLC0415

        return cupy
    return np


class Layer:
    """Base class of all layers.

    Attributes:
        params: dict name -> parameter array (empty for layers without parameters).
        grads: dict name -> gradient of the last backward, for the trainable parameters.
        non_trainable: names in params that are state, not trained (saved with the weights).
        need_input_grad: compute and return the input gradient in backward (the model sets it).
        input_shape / output_shape: per-sample shapes (no batch axis), known once built.
        xp, dtype: array module and float dtype of the parameters, fixed by build.
    A layer without a ``name`` gets Keras' default: the class's ``_PREFIX`` (the snake-case class name when
    None), then ``_1``, ``_2``, ... for later layers of the same prefix.
    """

    _PREFIX = None  # default-name prefix; None: from the class name (Dense -> "dense")

    #: Keras arguments of this class that fastann does not implement, each with the values that ask for
    #: nothing (Keras' default): passing one of those is accepted, any other value is a NotImplementedError.
    #: Subclasses list their own (e.g. Dense's kernel_regularizer); ``_BASE_UNIMPLEMENTED`` holds those of
    #: every Keras layer.
    _UNIMPLEMENTED: dict = {}
    _BASE_UNIMPLEMENTED = {"autocast": (True,)}

    #: True for layers that act on each element alone (same result in any memory layout of the array), so a
    #: model may run them on NCHW arrays between channels_last image layers (``fastann.models._layout``).
    elementwise = False

    #: Keras's per-weight regularizer and constraint keywords of this class: parameter name ->
    #: (regularizer keyword, constraint keyword), e.g. {"kernel": ("kernel_regularizer", "kernel_constraint")}.
    #: ``__init__`` takes those keywords (None, a name or an object; ``fastann.regularizers.get`` /
    #: ``fastann.constraints.get``) and keeps them as attributes of those names; ``add_weight`` attaches them
    #: to the parameter of that name.
    _WEIGHT_ARGS: dict = {}

    #: Keras's ``supports_masking``: the layer passes the mask of its input on to its output unchanged
    #: (see :func:`link_masks`); False drops it.
    supports_masking = False

    #: Module Keras's serialization writes for this class (``fastann._serialize``).
    _KERAS_MODULE = "keras.layers"

    #: Constructor arguments left out of ``get_config``: the base-layer ones it writes itself, the
    #: per-sample input shape (the model's ``build_input_shape`` carries it) and initial weight arrays.
    _CONFIG_SKIP = ("name", "trainable", "dtype", "input_shape", "input_dim", "weights")

    #: The base-layer keys ``get_config`` writes (a Keras class whose constructor lacks one leaves it out).
    _CONFIG_BASE_KEYS = ("name", "trainable", "dtype")

    def __init_subclass__(cls, **kwargs):
        """Every layer class records its constructor's arguments (``get_config``)."""
        super().__init_subclass__(**kwargs)
        record_init(cls)

    def __init__(self, name=None, trainable=True, input_shape=None, *, dtype=None, input_dim=None,
                 activity_regularizer=None, **kwargs):
        """Keras' base-layer arguments, checked as ``keras.layers.Layer`` checks them.

        ``activity_regularizer``: None, a name or a ``fastann.regularizers.Regularizer`` penalizing the
        layer's output: in a model, penalty(output) / batch size is added to the loss of fit and evaluate
        and its gradient to the output's gradient (Keras 3's ``Layer.__call__``). ``name``, ``trainable``;
        ``input_shape`` or ``input_dim`` (``input_shape=(input_dim,)``): the
        per-sample input shape, which builds a Sequential whose first layer this is; as Keras 3 does, giving
        one warns (UserWarning) that ``Input(shape)`` as the first layer is preferred. ``dtype``: None or
        float32 (the model's dtype applies); another dtype is a NotImplementedError.
        Raises ValueError("Unrecognized keyword arguments passed to <Class>: {...}") for keywords Keras does
        not know, and NotImplementedError naming the argument for a Keras argument fastann does not
        implement (``_UNIMPLEMENTED``) given a value other than Keras' default."""
        cls = type(self).__name__
        try:
            self.activity_regularizer = regularizers.get(activity_regularizer)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{cls}: activity_regularizer: {e}") from None
        for reg_key, con_key in self._WEIGHT_ARGS.values():
            for key, get in ((reg_key, regularizers.get), (con_key, constraints.get)):
                try:
                    setattr(self, key, get(kwargs.pop(key, None)))
                except (TypeError, ValueError) as e:
                    raise type(e)(f"{cls}: {key}: {e}") from None
        for table in (self._BASE_UNIMPLEMENTED, self._UNIMPLEMENTED):
            for key, accepted in table.items():
                if key in kwargs:
                    value = kwargs.pop(key)
                    if not any(value is a or (type(value) is type(a) and value == a) for a in accepted):
                        raise NotImplementedError(
                            f"{cls}: fastann does not implement the Keras argument {key}={value!r} "
                            f"(accepted: {', '.join(repr(a) for a in accepted)})")
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to {cls}: {kwargs}")
        if dtype is not None:
            try:
                ok = np.dtype(dtype) == np.float32
            except TypeError:
                ok = False
            if not ok:
                raise NotImplementedError(f"{cls}: fastann layers take dtype=None or 'float32' (a model computes "
                                          f"in the Sequential's dtype), got dtype={dtype!r}")
        if input_dim is not None:
            if input_shape is not None:
                raise ValueError(f"{cls}: give input_shape or input_dim, not both")
            if isinstance(input_dim, bool) or not isinstance(input_dim, numbers.Integral) or input_dim <= 0:
                raise ValueError(f"{cls}: input_dim must be a positive integer, got {input_dim!r}")
            input_shape = (int(input_dim),)
        if input_shape is not None:
            if isinstance(input_shape, numbers.Integral):
                input_shape = (input_shape,)
            if not isinstance(input_shape, (tuple, list)) or not input_shape or any(
                    isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0 for s in input_shape):
                raise ValueError(f"{cls}: input_shape must be a non-empty tuple of positive ints (no batch "
                                 f"axis), got {input_shape!r}")
            if not isinstance(self, InputLayer):
                warnings.warn("Do not pass an `input_shape`/`input_dim` argument to a layer. When using "
                              "Sequential models, prefer using an `Input(shape)` object as the first layer in "
                              "the model instead.", UserWarning, stacklevel=3)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{cls}: name must be a string, got {name!r}")
        self.name = name or _auto_name(self._PREFIX or _snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.built = False
        self.params: dict = {}
        self.grads: dict = {}
        self.non_trainable: set = set()  # names in params the optimizer must not touch
        self.regularizers: dict = {}     # name in params -> its Regularizer (penalty added to the loss)
        self.constraints: dict = {}      # name in params -> its constraint (applied after each update)
        self.need_input_grad = True
        self.xp = np
        self.dtype = np.dtype(np.float32)
        self.input_shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
        self.output_shape = None

    def __deepcopy__(self, memo):
        """``copy.deepcopy(layer)``: copies of every array; the array module (NumPy/CuPy) is shared."""
        memo[id(self.xp)] = self.xp
        memo[id(np)] = np
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, v in vars(self).items():
            setattr(new, k, copy.deepcopy(v, memo))
        return new

    # -- building -----------------------------------------------------------------------------------
    def build(self, input_shape, dtype=np.float32, xp=np, rng=None) -> None:
        """Create the parameters for per-sample ``input_shape``. ``rng``: numpy Generator for the
        initializers (a fresh unseeded one when None)."""
        input_shape = tuple(int(s) for s in input_shape)
        if self.input_shape is not None and not isinstance(self, InputLayer) and input_shape != self.input_shape:
            raise ValueError(f"{self.name}: declared input_shape {self.input_shape} but got inputs of "
                             f"per-sample shape {input_shape}")
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{self.name}: layers compute in float32 or float64, got dtype {dtype}")
        self.input_shape, self.dtype, self.xp = input_shape, dtype, xp
        self._build(input_shape, rng if rng is not None else np.random.default_rng())
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        self.built = True

    def _build(self, input_shape, rng) -> None:
        """Create parameters (override in layers that have some)."""

    def add_weight(self, name, shape, initializer, rng, trainable=True, regularizer=None, constraint=None,
                   keras_shape=None):
        """Create parameter ``name`` of ``shape`` with ``initializer`` (name or Initializer), on self.xp.

        ``trainable=False`` makes a state array that is saved and restored with the weights but never
        updated by the optimizer (e.g. BatchNormalization's moving mean and variance).
        ``regularizer`` (None, a name or a ``fastann.regularizers.Regularizer``): its penalty on this weight
        is added to the training loss and its gradient to the weight's gradient (while the weight is
        trainable, as Keras). ``constraint`` (None, a name, a ``fastann.constraints.Constraint`` or a
        function w -> w): applied to the weight in Keras's layout after each optimizer update. Left at None,
        both come from the layer's keywords for ``name`` (``_WEIGHT_ARGS``), e.g. Dense's kernel_regularizer
        for "kernel". ``keras_shape``: draw the values in Keras's layout of that shape (so the initializer's
        fans are Keras's) and store them converted by ``_from_keras_layout``."""
        init = initializers.get(initializer)
        if name in self._WEIGHT_ARGS:
            reg_key, con_key = self._WEIGHT_ARGS[name]
            regularizer = getattr(self, reg_key) if regularizer is None else regularizer
            constraint = getattr(self, con_key) if constraint is None else constraint
        regularizer, constraint = regularizers.get(regularizer), constraints.get(constraint)
        if keras_shape is None:
            value = init(shape, self.dtype, rng)
        else:
            value = self._from_keras_layout(name, init(keras_shape, self.dtype, rng))
        arr = self.xp.asarray(value) if self.xp is not np else np.ascontiguousarray(value)
        self.params[name] = arr
        if not trainable:
            self.non_trainable.add(name)
        if regularizer is not None:
            self.regularizers[name] = regularizer
        if constraint is not None:
            self.constraints[name] = constraint
        return arr

    @property
    def losses(self) -> list:
        """The regularization penalties of the trainable weights, one 0-d array each (Keras' ``layer.losses``
        for weight regularizers)."""
        return [self.regularizers[k](self.params[k]) for k in self.trainable_names if k in self.regularizers]

    def apply_constraints(self, names=None) -> None:
        """Project each parameter of ``names`` (None: every one) that has a constraint, in place: the
        constraint sees the weight in Keras's layout (``_to_keras_layout``) and the result is stored back
        (``_from_keras_layout``), so its ``axis`` means what it means in Keras."""
        for k in (self.constraints if names is None else names):
            c = self.constraints.get(k)
            if c is not None:
                p = self.params[k]
                p[...] = self._from_keras_layout(k, c(self._to_keras_layout(k, p)))

    @property
    def trainable_names(self) -> list:
        """Names of the parameters the optimizer updates (none when the layer is frozen)."""
        if not self.trainable:
            return []
        return [k for k in self.params if k not in self.non_trainable]

    @property
    def weights(self) -> list:
        """The parameter arrays themselves (not copies), in ``params`` order (Keras' ``layer.weights``)."""
        return list(self.params.values())

    @property
    def trainable_weights(self) -> list:
        """The parameters the optimizer updates: none when the layer is frozen (``trainable = False``)."""
        return [self.params[k] for k in self.trainable_names]

    @property
    def non_trainable_weights(self) -> list:
        """The other parameters: state such as moving statistics, or all of them for a frozen layer."""
        names = set(self.trainable_names)
        return [p for k, p in self.params.items() if k not in names]

    def compute_output_shape(self, input_shape) -> tuple:
        return tuple(input_shape)

    # -- masks (padded sequences) ------------------------------------------------------------------------
    def mask_origin(self, incoming):
        """The layer whose ``output_mask`` (a boolean (N, T) array, True for the steps to use, set by its
        forward) is the mask of this layer's output, given ``incoming``, the one of its input's (None for no
        mask). Keras's ``compute_mask`` in structural form: by default the mask passes on when
        ``supports_masking`` and stops otherwise; Masking and Embedding(mask_zero=True) return themselves
        (they make a mask from their input)."""
        return incoming if self.supports_masking else None

    # -- device -------------------------------------------------------------------------------------
    def to(self, device):
        """Move the layer to ``device`` ("cpu", "cuda", "cuda:N") and return it.

        Every array the layer holds moves: parameters, gradients, non-trainable state (BatchNormalization's
        moving statistics), and cached arrays (saved activations, AveragePooling2D's padding scale). The
        copies are exact. A layer not built yet just records the array module; its parameters are then
        created on the device (initialized on the host from the same seeded generator, so the same seed
        gives the same weights on every device). Raises ValueError for an unknown device string and
        RuntimeError (saying why) when CUDA is asked for but not usable."""
        xp, _, index = _device.resolve(f"{self.name}.to", device)
        with _device.context(index, xp):
            self._move_to(xp)
        return self

    def _move_to(self, xp) -> None:
        """Move every array attribute to ``xp`` (numpy or cupy); see :meth:`to`."""
        for k, v in list(vars(self).items()):
            if k != "xp":
                setattr(self, k, _device.move(v, xp))
        self.xp = xp

    # -- running ------------------------------------------------------------------------------------
    def __call__(self, x, training=False):
        """On arrays: build on the first call, check the per-sample shape, run forward. On a KerasTensor (or a
        list of them, for a merge layer): record the call in the graph of the Functional API and return the
        output KerasTensor(s), see :meth:`call_symbolic`."""
        if is_symbolic(x):
            return self.call_symbolic(x)
        if not self.built:
            self.build(x.shape[1:], x.dtype, _array_module(x))
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{self.name}: expected inputs of shape (N, {', '.join(map(str, self.input_shape))})"
                             f", got {tuple(x.shape)}")
        return self.forward(x, training)

    def call_symbolic(self, inputs):
        """Call the layer on KerasTensor(s): a new ``Node`` of the graph, and its output KerasTensor(s).

        The output shape comes from the layer built for the inputs' per-sample shape(s): an unbuilt layer is
        built on a throwaway copy (the layer itself is built by the model that holds it, from the model's
        seeded generator), a built one must get the shape it was built for. A bad shape (a merge of unequal
        shapes, a Dense on images it was not built for) raises here, when the graph is written, naming the
        layer. Returns one KerasTensor, or a list for a layer with several outputs (a nested Model)."""
        single = isinstance(inputs, KerasTensor)
        tensors = flatten(inputs)
        shapes = [t.per_sample_shape for t in tensors]
        in_shape = shapes[0] if single else shapes
        if self.built:
            if _shape_key(self.input_shape) != _shape_key(in_shape):
                raise ValueError(f"{self.name}: was built for inputs of per-sample shape {self.input_shape}, "
                                 f"called on {in_shape} (a shared layer takes the same shape at every call)")
            out = self.output_shape
        else:
            probe = copy.deepcopy(self)
            probe.build(in_shape, np.float32, np, np.random.default_rng(0))
            out = probe.output_shape
        several = isinstance(out, list)
        node = Node(self, tensors, out if several else [out], single_input=single)
        return list(node.outputs) if several else node.outputs[0]

    def forward(self, x, training=False):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_output):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- parameters ---------------------------------------------------------------------------------
    def count_params(self) -> int:
        return int(sum(int(np.prod(p.shape)) for p in self.params.values()))

    # Keras layout at the boundary: a layer may store a parameter in the layout its kernels run fastest on
    # (e.g. a convolution kernel as PyTorch's (C_out, C_in, kH, kW)) and expose Keras's layout (kH, kW, C_in,
    # C_out) in get_weights, set_weights and saved files. The two hooks convert one parameter; the default
    # is the identity (the layer stores Keras's layout).
    def _to_keras_layout(self, key: str, array):
        """Parameter ``key`` as stored (``params[key]``, NumPy or CuPy) -> the same values in Keras's layout."""
        return array

    def _from_keras_layout(self, key: str, array):
        """Inverse of ``_to_keras_layout``: an array in Keras's layout -> the stored layout of ``key``."""
        return array

    def get_weights(self) -> list:
        """Copies of the parameters as NumPy arrays in Keras's layout and order (kernel, bias for Dense)."""
        return [np.array(self._to_keras_layout(k, p.get() if is_cupy(p) else p)) for k, p in self.params.items()]

    def set_weights(self, weights) -> None:
        """Copy ``weights`` (a list in ``params`` order, each in Keras's layout as get_weights returns it) into
        the parameters, in place. ValueError on a wrong count or shape."""
        weights = list(weights)
        if len(weights) != len(self.params):
            raise ValueError(f"{self.name}: set_weights got {len(weights)} arrays, the layer has "
                             f"{len(self.params)} ({', '.join(self.params)})")
        for (k, p), w in zip(self.params.items(), weights):
            w = _device.move(w if hasattr(w, "shape") else np.asarray(w), self.xp)  # NumPy or CuPy in
            expected = self._to_keras_layout(k, p).shape
            if w.shape != expected:
                raise ValueError(f"{self.name}: weight {k!r} has shape {expected}, got {w.shape}")
            p[...] = self.xp.asarray(self._from_keras_layout(k, w), dtype=p.dtype)

    # -- config (Keras's serialization) -----------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's layer config: ``name``, ``trainable``, ``dtype`` (a serialized ``DTypePolicy``) and the
        constructor's arguments by their Keras names, the defaults included, initializers, regularizers and
        constraints as serialized objects (``{"module": "keras.initializers", "class_name":
        "GlorotUniform", "config": {"seed": None}, ...}``), tuples as lists. JSON-ready; ``from_config``
        rebuilds the layer (unbuilt) from it, and ``keras.layers.<Class>.from_config`` reads it.
        ValueError when an argument is a Python function (it cannot be saved). See ``layers._config``."""
        return _config.layer_config(self)

    @classmethod
    def from_config(cls, config):
        """The layer (unbuilt) that ``config`` (``get_config``'s form, or Keras's) describes. Serialized
        objects in it resolve through fastann's registry only (``fastann._serialize.deserialize``);
        ``dtype`` is dropped (a layer computes in its model's dtype). TypeError for a config that is not a
        dict; ValueError/TypeError/NotImplementedError as the constructor raises them."""
        return _config.layer_from_config(cls, config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} output_shape={self.output_shape}>"


def _shape_key(shape):
    """A per-sample shape, or a list of them, as nested tuples of ints (for comparing)."""
    if shape and isinstance(shape[0], (tuple, list)):
        return tuple(tuple(int(d) for d in s) for s in shape)
    return tuple(int(d) for d in shape)


def link_masks(layers) -> None:
    """Wire the masks of a chain of layers (``Sequential`` calls it when it plans its run): every layer that
    takes a mask (it has a ``mask_source`` attribute: the recurrent layers, Bidirectional) gets as
    ``mask_source`` the layer whose ``output_mask`` is the mask of its input, or None (no mask), following
    each layer's :meth:`Layer.mask_origin`. The forward passes then need no extra argument: a consumer reads
    ``mask_source.output_mask``, which its producer set earlier in the same pass."""
    origin = None
    for layer in layers:
        if hasattr(layer, "mask_source"):
            layer.mask_source = origin
        origin = layer.mask_origin(origin)


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("_layer", "")


class ImageLayer(Layer):
    """Base of the layers on images: ``data_format``, and the conversions between the layer's public layout
    and the NCHW layout its kernels compute in (see the module docstring).

    ``_nchw_in`` / ``_nchw_out`` (False unless a model's layout plan sets them, see
    ``fastann.models._layout``): the input arrives / the output leaves in NCHW although the layer is
    channels_last. ``layout_image_output``: the output is an image another layer can take in NCHW (False for
    Flatten and the global poolings). A channels_first layer never converts.
    """

    _nchw_in = False
    _nchw_out = False
    layout_image_output = True

    def __init__(self, name=None, trainable=True, input_shape=None, *, data_format=None, **kwargs):
        super().__init__(name, trainable=trainable, input_shape=input_shape, **kwargs)
        self.data_format = data_format_arg(type(self).__name__, data_format)
        self._io = (False, False)  # (_nchw_in, _nchw_out) of the last forward: its backward converts alike

    @property
    def channels_last(self) -> bool:
        """True when the layer's public layout is (N, H, W, C) (its arrays are converted to NCHW)."""
        return self.data_format == "channels_last"

    def _chw(self, input_shape) -> tuple:
        """Per-sample public shape -> (C, H, W)."""
        return image_shape(self.name, input_shape, self.data_format)

    def _public(self, chw, input_shape, keep_rank=True) -> tuple:
        """(C, H, W) of an output -> its public per-sample shape; a 2-D ``input_shape`` keeps its rank when
        ``keep_rank`` (layers that keep the channel count)."""
        c, h, w = chw
        if keep_rank and len(input_shape) == 2:
            return (h, w)
        return (h, w, c) if self.channels_last else (c, h, w)

    def __call__(self, x, training=False):
        """Run alone: convert at the layer's own boundary whatever a model's plan set."""
        flags = self.__dict__.pop("_nchw_in", None), self.__dict__.pop("_nchw_out", None)
        try:
            return super().__call__(x, training)
        finally:
            for key, value in zip(("_nchw_in", "_nchw_out"), flags):
                if value is not None:
                    setattr(self, key, value)

    def _to_nchw(self, x, nchw):
        """An input (or output gradient) in the public layout, or already NCHW when ``nchw`` -> 4-D NCHW.
        (N, H, W) is one channel: a view (N, 1, H, W)."""
        if x.ndim == 3:
            return x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])
        if nchw or not self.channels_last:
            return x
        return self.xp.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def _from_nchw(self, y, nchw, one_channel=False):
        """A 4-D NCHW result -> the public layout (or NCHW when ``nchw``); ``one_channel``: the 3-D shape of
        an (N, H, W) input (C is 1)."""
        if one_channel:
            return y.reshape(y.shape[0], y.shape[2], y.shape[3])
        if nchw or not self.channels_last:
            return y
        return self.xp.ascontiguousarray(y.transpose(0, 2, 3, 1))

    def _enter(self, x):
        """forward's input -> NCHW; records the plan flags for backward."""
        self._io = (self._nchw_in, self._nchw_out)
        return self._to_nchw(x, self._io[0])

    def _leave(self, y, one_channel=False):
        """forward's NCHW output -> what the next layer expects."""
        return self._from_nchw(y, self._io[1], one_channel)

    def _grad_enter(self, g):
        """backward's output gradient -> NCHW."""
        return self._to_nchw(g, self._io[1])

    def _grad_leave(self, dx, one_channel=False):
        """backward's NCHW input gradient -> the layout forward's input came in."""
        return self._from_nchw(dx, self._io[0], one_channel)


class InputLayer(Layer):
    """Declares the per-sample input shape (no batch axis), so a model builds before it sees data:
    ``Sequential([Input((784,)), Dense(10)])``. Its forward and backward pass the arrays through."""

    _PREFIX = "input"
    _UNIMPLEMENTED = {"batch_size": (None,), "sparse": (None, False), "tensor": (None,), "ragged": (None, False),
                      "batch_shape": (None,), "input_tensor": (None,)}

    def __init__(self, shape, name=None, **kwargs):
        if isinstance(shape, numbers.Integral):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not shape or any(
                isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0 for s in shape):
            raise ValueError(f"Input: shape must be a non-empty tuple of positive ints (no batch axis), "
                             f"got {shape!r}")
        super().__init__(name, input_shape=tuple(int(s) for s in shape), **kwargs)

    def get_config(self) -> dict:
        """Keras's InputLayer config: ``batch_shape`` (None, *shape), dtype, sparse, ragged, name."""
        return {"batch_shape": [None, *self.input_shape], "dtype": "float32", "sparse": False, "ragged": False,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        """An InputLayer from Keras's config (``batch_shape``, or ``shape`` without the batch axis);
        ValueError for a sparse or ragged input or any other key."""
        config = dict(config)
        if "batch_shape" in config:
            batch_shape = config.pop("batch_shape")
            if not isinstance(batch_shape, list) or len(batch_shape) < 2:
                raise ValueError(f"InputLayer.from_config: batch_shape must be a list [batch, ...], got "
                                 f"{batch_shape!r}")
            config["shape"] = tuple(batch_shape[1:])
        for key, default in (("sparse", False), ("ragged", False), ("optional", False), ("batch_size", None)):
            if config.pop(key, default) not in (default, None):
                raise ValueError(f"InputLayer.from_config: {key} inputs are not supported")
        config.pop("dtype", None)  # the model's dtype applies
        return cls(**config)

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output if self.need_input_grad else None


_serialize.register_family("layers", lambda: _config.layer_classes(Layer))


def Input(shape, name=None, **kwargs) -> KerasTensor:  # noqa: N802 - Keras spelling
    """``keras.Input``: the symbolic input of a model, a KerasTensor of shape ``(None, *shape)`` made by an
    InputLayer fixing the per-sample shape (e.g. (784,) or (1, 28, 28)).

    Both Keras uses work: call layers on it and build ``fastann.Model(inputs, outputs)``, or put it first
    in a Sequential's list (``Sequential([Input((784,)), Dense(10)])``), which takes its InputLayer. The
    dtype is the model's. Other keywords are checked as every layer's (``Layer``): dtype None or float32;
    batch_size, sparse, tensor, ragged only at Keras' defaults (None / False). ValueError for a bad shape."""
    layer = InputLayer(shape, name=name, **kwargs)
    return Node(layer, [], [layer.input_shape]).outputs[0]
