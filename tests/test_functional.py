"""The Functional API (fastann.Input, layers on KerasTensors, fastann.Model), models inside models, freezing
with Keras's compile-time rule, the step API and the custom-loop path (model(x, training=True), gradients)."""
import numpy as np
import pytest

import fastann
from fastann import layers, losses, optimizers


def _fd_check(model, x, params_to_check=3, rng=None, eps=1e-6, tol=1e-6):
    """Finite-difference check of model.gradients for loss = sum(r * y) (several outputs: summed), in
    float64: every trainable weight (a few entries each) and the input(s)."""
    rng = rng or np.random.default_rng(0)
    y = model(x, training=True)
    ys = y if isinstance(y, list) else [y]
    rs = [rng.standard_normal(a.shape) for a in ys]
    grads, dx = model.gradients(rs if isinstance(y, list) else rs[0])

    def loss():
        out = model(x, training=False)
        return sum(float((r * o).sum()) for r, o in zip(rs, out if isinstance(out, list) else [out]))

    for w, g in zip(model.trainable_weights, grads):
        assert g.shape == w.shape
        flat = w.reshape(-1)
        for i in rng.choice(flat.size, size=min(params_to_check, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            assert abs((up - down) / (2 * eps) - g.reshape(-1)[i]) < tol * max(1.0, abs(g.reshape(-1)[i]))
    xs, dxs = (x, dx) if isinstance(x, list) else ([x], [dx])
    for a, d in zip(xs, dxs):
        flat = a.reshape(-1)
        for i in rng.choice(flat.size, size=3, replace=False):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            assert abs((up - down) / (2 * eps) - d.reshape(-1)[i]) < tol * max(1.0, abs(d.reshape(-1)[i]))
    return grads, dx


def residual_model(dim=6, hidden=5, seed=0, dtype="float64"):
    x = fastann.Input((dim,))
    h = layers.Dense(hidden, activation="tanh")(x)
    h = layers.Dense(dim)(h)
    y = layers.Add()([x, h])
    out = layers.Dense(3)(y)
    return fastann.Model(x, out, seed=seed, dtype=dtype)


def test_input_is_a_keras_tensor_and_still_starts_a_sequential():
    t = fastann.Input((4,))
    assert isinstance(t, layers.KerasTensor) and t.shape == (None, 4)
    assert fastann.layers.Input is fastann.Input
    model = fastann.Sequential([t, layers.Dense(2)], seed=0)
    assert model.built and model.input_shape == (4,) and len(model.layers) == 1
    assert isinstance(model, fastann.Model) and isinstance(model, layers.Layer)


def test_residual_block_matches_numpy_forward_and_finite_differences(rng):
    model = residual_model()
    x = rng.standard_normal((4, 6))
    w1, b1, w2, b2, w3, b3 = model.get_weights()  # Dense kernels as (in, units): Keras's layout
    h = np.tanh(x @ w1 + b1) @ w2 + b2
    ref = (x + h) @ w3 + b3
    np.testing.assert_allclose(model.predict(x), ref, rtol=1e-12, atol=1e-12)
    _fd_check(model, x.copy(), rng=rng)


def test_tensor_used_twice_gets_the_sum_of_both_gradients(rng):
    x = fastann.Input((5,))
    h = layers.Dense(4, activation="tanh")(x)
    a = layers.Dense(3)(h)          # h feeds two layers ...
    b = layers.Dense(3)(h)
    c = layers.Multiply()([a, b])
    d = layers.Concatenate()([c, h])  # ... and a third, through the concatenation
    model = fastann.Model(x, d, seed=1, dtype="float64")
    _fd_check(model, rng.standard_normal((3, 5)), rng=rng)


def test_shared_layer_called_twice(rng):
    """A layer used at two nodes (a siamese pair): parameter gradients of both calls are summed."""
    xa, xb = fastann.Input((4,)), fastann.Input((4,))
    shared = layers.Dense(3, activation="tanh")
    out = layers.Subtract()([shared(xa), shared(xb)])
    model = fastann.Model([xa, xb], out, seed=2, dtype="float64")
    assert len(model.trainable_weights) == 2  # once, though called twice
    _fd_check(model, [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))], rng=rng)


def test_merge_layers_on_arrays(rng):
    a, b, c = (rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3))
    np.testing.assert_allclose(layers.Add()([a, b, c]), a + b + c, rtol=1e-6)
    np.testing.assert_allclose(layers.Subtract()([a, b]), a - b, rtol=1e-6)
    np.testing.assert_allclose(layers.Multiply()([a, b, c]), a * b * c, rtol=1e-6)
    np.testing.assert_allclose(layers.Average()([a, b]), (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(layers.Maximum()([a, b, c]), np.maximum(np.maximum(a, b), c))
    np.testing.assert_allclose(layers.Concatenate(axis=1)([a, b]), np.concatenate([a, b], 1))
    m = layers.Maximum()
    m.forward([a, a.copy()], training=True)
    g = np.ones_like(a)
    ga, gb = m.backward(g)
    np.testing.assert_array_equal(ga, g)  # ties: the first input gets the gradient
    np.testing.assert_array_equal(gb, 0 * g)
    with pytest.raises(ValueError, match="Subtract"):
        layers.Subtract()([a, b, c])
    with pytest.raises(ValueError, match="same shape"):
        layers.Add()([a, rng.standard_normal((2, 4)).astype(np.float32)])


def test_gaussian_noise_only_in_training(rng):
    x = np.zeros((1000, 10), np.float32)
    layer = layers.GaussianNoise(0.5, seed=3)
    assert layer(x) is x
    y = layer(x, training=True)
    assert abs(float(y.std()) - 0.5) < 0.02 and not np.array_equal(y, layer(x, training=True))
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    with pytest.raises(ValueError, match="stddev"):
        layers.GaussianNoise(-1.0)


def two_in_two_out(seed=0, dtype="float32"):
    xa, xb = fastann.Input((4,), name="in_a"), fastann.Input((3,), name="in_b")
    h = layers.Concatenate()([layers.Dense(5, activation="relu")(xa), xb])
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(2, name="reg")(h)
    return fastann.Model([xa, xb], [cls, reg], seed=seed, dtype=dtype)


def test_two_inputs_two_outputs_one_sgd_step_matches_numpy(rng):
    model = two_in_two_out(dtype="float64")
    xa, xb = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    labels, target = rng.integers(0, 3, 8), rng.standard_normal((8, 2))
    model.compile(optimizer=optimizers.SGD(0.1), loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5])
    w1, b1, wc, bc, wr, br = model.get_weights()  # Dense kernels as (in, units)
    z1 = xa @ w1 + b1
    h = np.concatenate([np.maximum(z1, 0), xb], 1)
    zc = h @ wc + bc
    p = np.exp(zc - zc.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    r = h @ wr + br
    loss = -np.log(p[np.arange(8), labels]).mean() + 0.5 * ((r - target) ** 2).mean()
    assert model.metrics_names == ["loss", "cls_loss", "reg_loss"]
    got = model.train_on_batch([xa, xb], [labels, target])
    assert got[0] == pytest.approx(loss, rel=1e-10) and got[0] == pytest.approx(got[1] + 0.5 * got[2], rel=1e-12)
    dzc = p.copy()
    dzc[np.arange(8), labels] -= 1
    dzc /= 8
    dr = 0.5 * 2 * (r - target) / r.size
    dh = dzc @ wc.T + dr @ wr.T
    dz1 = dh[:, :5] * (z1 > 0)
    expected = [w1 - 0.1 * xa.T @ dz1, b1 - 0.1 * dz1.sum(0), wc - 0.1 * h.T @ dzc, bc - 0.1 * dzc.sum(0),
                wr - 0.1 * h.T @ dr, br - 0.1 * dr.sum(0)]
    for w, e in zip(model.get_weights(), expected):
        np.testing.assert_allclose(w, e, rtol=1e-10, atol=1e-12)
    preds = model.predict([xa, xb])
    assert isinstance(preds, list) and preds[0].shape == (8, 3) and preds[1].shape == (8, 2)
    hist = model.fit([xa, xb], [labels, target], epochs=2, batch_size=4, verbose=0, validation_split=0.25)
    assert set(hist.history) == {"loss", "cls_loss", "reg_loss", "val_loss", "val_cls_loss", "val_reg_loss"}


def test_train_on_batch_return_values(rng):
    x, y = rng.standard_normal((16, 5)).astype(np.float32), rng.integers(0, 3, 16)
    model = fastann.Sequential([fastann.Input((5,)), layers.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = model.test_on_batch(x, y)
    loss = model.train_on_batch(x, y)
    assert isinstance(loss, float) and loss == pytest.approx(before, rel=1e-6)
    assert model.test_on_batch(x, y) < before
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    out = model.train_on_batch(x, y)
    assert isinstance(out, list) and len(out) == 2 and model.metrics_names == ["loss", "accuracy"]
    logs = model.test_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x))
    w = np.linspace(0.0, 2.0, 16)
    np.testing.assert_allclose(model.test_on_batch(x, y, sample_weight=w),
                               model.evaluate(x, y, sample_weight=w, batch_size=16), rtol=1e-6)
    with pytest.raises(ValueError, match="class_weight.*sample_weight"):
        model.train_on_batch(x, y, sample_weight=np.ones(16), class_weight={0: 2.0})


def test_nested_models_share_parameters(rng):
    encoder = fastann.Sequential([fastann.Input((8,)), layers.Dense(3, activation="relu")], seed=0, name="enc")
    decoder = fastann.Sequential([fastann.Input((3,)), layers.Dense(8)], seed=1, name="dec")
    x = fastann.Input((8,))
    auto = fastann.Model(x, decoder(encoder(x)), seed=2)
    stacked = fastann.Sequential([fastann.Input((8,)), encoder, decoder])
    data = rng.standard_normal((32, 8)).astype(np.float32)
    np.testing.assert_array_equal(auto.predict(data), stacked.predict(data))
    np.testing.assert_allclose(auto.predict(data), decoder.predict(encoder.predict(data)), rtol=1e-6)
    assert len(auto.trainable_weights) == 4 and auto.count_params() == encoder.count_params() + decoder.count_params()
    enc_before = encoder.get_weights()
    auto.compile(optimizer="adam", loss="mse")
    auto.fit(data, data, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(encoder.get_weights()[0], enc_before[0])  # trained through the outer model
    np.testing.assert_array_equal(auto.predict(data), stacked.predict(data))
    lines = []
    auto.summary(print_fn=lines.append)
    assert "Connected to" in lines[2] and any("enc (Sequential)" in l for l in lines)


def test_small_autoencoder_loss_decreases(rng):
    data = (1 / (1 + np.exp(-rng.standard_normal((256, 3)) @ rng.standard_normal((3, 16))))).astype(np.float32)
    x = fastann.Input((16,))
    code = layers.Dense(6, activation="relu")(layers.GaussianNoise(0.05)(x))
    model = fastann.Model(x, layers.Dense(16, activation="sigmoid")(code), seed=0)
    model.compile(optimizer=optimizers.Adam(0.01), loss="mse")
    hist = model.fit(data, data, epochs=15, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


def _gan(seed=0):
    gen = fastann.Sequential([fastann.Input((4,)), layers.Dense(8), layers.BatchNormalization(),
                              layers.LeakyReLU(0.2), layers.Dense(6, activation="tanh")], seed=seed, name="gen")
    disc = fastann.Sequential([fastann.Input((6,)), layers.Dense(8), layers.BatchNormalization(),
                               layers.LeakyReLU(0.2), layers.Dense(1, activation="sigmoid")], seed=seed + 1,
                              name="disc")
    disc.compile(optimizer=optimizers.Adam(1e-2), loss="binary_crossentropy")
    disc.trainable = False
    z = fastann.Input((4,))
    combined = fastann.Model(z, disc(gen(z)), seed=seed + 2)
    combined.compile(optimizer=optimizers.Adam(1e-2), loss="binary_crossentropy")
    return gen, disc, combined


def test_gan_freezing_pattern(rng):
    gen, disc, combined = _gan()
    z = rng.standard_normal((16, 4)).astype(np.float32)
    real = rng.standard_normal((16, 6)).astype(np.float32)
    assert not disc.trainable and combined.trainable_weights == gen.trainable_weights
    d0, g0 = disc.get_weights(), gen.get_weights()
    disc.train_on_batch(real, np.ones((16, 1), np.float32))  # compiled while trainable: D learns
    d1 = disc.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(d0, d1))  # kernels, biases and moving statistics
    assert all(np.array_equal(a, b) for a, b in zip(g0, gen.get_weights()))
    assert not disc.trainable  # the user's flag is back
    combined.train_on_batch(z, np.ones((16, 1), np.float32))  # D frozen at combined's compile
    assert all(np.array_equal(a, b) for a, b in zip(d1, disc.get_weights()))  # moving stats too (inference BN)
    assert all(not np.array_equal(a, b) for a, b in zip(g0, gen.get_weights()))


def test_custom_loop_generator_step_through_the_frozen_discriminator(rng):
    gen, disc, combined = _gan(seed=3)
    z = rng.standard_normal((16, 4)).astype(np.float32)
    ones = np.ones((16, 1), np.float32)
    bce = losses.BinaryCrossentropy()
    # the combined model's gradients ...
    p = combined(z, training=True)
    _, dp = bce.forward_backward(p, ones)
    g_combined, dz = combined.gradients(dp)
    assert dz.shape == z.shape and len(g_combined) == len(gen.trainable_weights)
    # ... are the chain of the two models' backward passes
    fake = gen(z, training=True)
    p2 = disc(fake, training=True)
    np.testing.assert_array_equal(p, p2)
    _, dp2 = bce.forward_backward(p2, ones)
    d_grads, dfake = disc.gradients(dp2)
    assert d_grads == []  # frozen: backpropagated through, not differentiated
    g_grads, _ = gen.gradients(dfake)
    for a, b in zip(g_combined, g_grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    d_before, g_before = disc.get_weights(), gen.get_weights()
    opt = optimizers.Adam(1e-2)
    opt.apply_gradients(zip(g_grads, gen.trainable_weights))
    assert all(np.array_equal(a, b) for a, b in zip(d_before, disc.get_weights()))
    assert not np.array_equal(g_before[0], gen.get_weights()[0])


def test_bad_graphs_get_clear_errors(rng):
    a, b = fastann.Input((3,)), fastann.Input((3,))
    out = layers.Dense(2)(a)
    with pytest.raises(ValueError, match="disconnected"):
        fastann.Model(b, out)
    with pytest.raises(ValueError, match="does not reach"):
        fastann.Model([a, b], out)
    with pytest.raises(ValueError, match="same shape"):
        layers.Add()([a, fastann.Input((4,))])
    with pytest.raises(ValueError, match="Concatenate"):
        layers.Concatenate()([fastann.Input((2, 3)), fastann.Input((3, 3))])
    model = fastann.Model(a, out)
    with pytest.raises(ValueError, match="shape"):
        model.predict(rng.standard_normal((2, 3, 1)))
    with pytest.raises(ValueError, match="2 inputs"):
        fastann.Model([a, b], layers.Add()([a, b])).predict(rng.standard_normal((2, 3)))
    # a model called on the wrong rank: symbolically (as a layer in another graph) and on arrays
    with pytest.raises(ValueError, match=r"per-sample shape \(3,\), called on \(3, 4\)"):
        model(fastann.Input((3, 4)))
    with pytest.raises(ValueError, match=r"takes inputs of shape \(N, 3\), got x of shape \(2, 3, 4\)"):
        model(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="batch axis"):
        model(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="KerasTensor"):
        fastann.Model(a, np.zeros(3))
    with pytest.raises(NotImplementedError):
        fastann.Model()
    with pytest.raises(ValueError, match="training=True"):
        fastann.Model(a, layers.Dense(2)(a)).gradients(np.zeros((2, 2)))
    with pytest.raises(NotImplementedError, match="loss_weights"):
        model.compile(loss="mse", loss_weights=[2.0])
    h = layers.Dense(3)(a)
    h2 = layers.Dense(3)(h)
    h.node.inputs = [h2]  # a cycle cannot be written with layer calls; made by hand here
    with pytest.raises(ValueError, match="cycle"):
        fastann.Model(a, h2)
    assert model.input is a and model.output is out and model.inputs == [a]
    with pytest.raises(AttributeError, match="symbolic"):
        fastann.Sequential([layers.Dense(2)]).inputs


def test_functional_classifier_matches_sequential(rng):
    """The same layers as a Sequential and as a functional Model train to the same bits (one engine)."""
    x, y = rng.standard_normal((64, 5)).astype(np.float32), rng.integers(0, 3, 64)
    seq = fastann.Sequential([fastann.Input((5,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="softmax")], seed=0)
    inp = fastann.Input((5,))
    fun = fastann.Model(inp, layers.Dense(3, activation="softmax")(layers.Dense(8, activation="relu")(inp)))
    fun.set_weights(seq.get_weights())
    for m in (seq, fun):
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h1 = seq.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    h2 = fun.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert h1.history == h2.history
    for a, b in zip(seq.get_weights(), fun.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_every_merge_and_new_layer_runs_on_each_backend(backend, rng):
    """The same graph (every merge layer, GaussianNoise, a nested Sequential) on the CPU and on the
    backend: forward, a train_on_batch and a custom-loop step agree (the 'cuda' case skips without a GPU)."""
    def make():
        x1, x2 = fastann.Input((6,)), fastann.Input((6,))
        inner = fastann.Sequential([fastann.Input((6,)), layers.Dense(6, activation="tanh")], seed=5)
        a = inner(layers.GaussianNoise(0.1, seed=1)(x1))
        b = layers.Dense(6)(x2)
        merged = [layers.Add()([a, b]), layers.Subtract()([a, b]), layers.Multiply()([a, b]),
                  layers.Average()([a, b]), layers.Maximum()([a, b])]
        return fastann.Model([x1, x2], layers.Dense(2)(layers.Concatenate()(merged)), seed=4)

    xs = [rng.standard_normal((8, 6)).astype(np.float32) for _ in range(2)]
    y = rng.standard_normal((8, 2)).astype(np.float32)
    results = []
    for device in ("cpu", backend):
        model = make().to(device)
        model.compile(optimizer="sgd", loss="mse")
        loss = model.train_on_batch(xs, y)
        out = model(xs, training=True)
        grads, dx = model.gradients(out * 0 + 1)
        to_host = (lambda a: a) if device == "cpu" else (lambda a: a.get())
        results.append((loss, model.predict(xs), [to_host(g) for g in grads], [to_host(d) for d in dx]))
    (l0, p0, g0, d0), (l1, p1, g1, d1) = results
    assert l1 == pytest.approx(l0, rel=1e-5)
    np.testing.assert_allclose(p1, p0, rtol=1e-4, atol=1e-5)
    for a, b in zip(g0 + d0, g1 + d1):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_skip_connection_matches_pytorch_forward_and_one_sgd_step(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (the comparison venv has it)")
    model = residual_model(dtype="float32", seed=7)
    model.compile(optimizer=optimizers.SGD(0.05), loss="mse")
    x = rng.standard_normal((16, 6)).astype(np.float32)
    y = rng.standard_normal((16, 3)).astype(np.float32)
    w = [torch.tensor(a, requires_grad=True) for a in model.get_weights()]  # Dense kernels: (in, out)

    def forward(t):
        h = torch.tanh(t @ w[0] + w[1]) @ w[2] + w[3]
        return (t + h) @ w[4] + w[5]

    xt, yt = torch.tensor(x), torch.tensor(y)
    out = forward(xt)
    np.testing.assert_allclose(model.predict(x), out.detach().numpy(), rtol=2e-4, atol=1e-6)
    loss = torch.nn.functional.mse_loss(out, yt)
    loss.backward()
    assert model.train_on_batch(x, y) == pytest.approx(loss.item(), rel=2e-4)
    for a, t in zip(model.get_weights(), w):
        ref = (t - 0.05 * t.grad).detach().numpy()
        assert np.linalg.norm(a - ref) <= 2e-4 * np.linalg.norm(ref)


@pytest.mark.parametrize("rank", [3, 4])
def test_global_max_pooling_and_cropping_against_numpy(rng, rank, channels_first):
    shape = (2, 3, 7, 6) if rank == 4 else (2, 7, 6)
    x = rng.standard_normal(shape)
    x4 = x.reshape(2, -1, 7, 6)
    gmp = layers.GlobalMaxPooling2D()
    np.testing.assert_array_equal(gmp(x), x4.max(axis=(2, 3)))
    assert layers.GlobalMaxPooling2D(keepdims=True)(x).shape == (2, x4.shape[1], 1, 1)
    crop = layers.Cropping2D(((1, 2), (0, 3)))
    np.testing.assert_array_equal(crop(x), x[..., 1:5, 0:3])
    with pytest.raises(ValueError, match="leaves nothing"):
        layers.Cropping2D(4)(x)
    # gradients by finite differences, through a float64 model
    inp = fastann.Input(shape[1:])
    out = layers.Concatenate()([layers.GlobalMaxPooling2D()(inp),
                                layers.Flatten()(layers.Cropping2D(((1, 2), (0, 3)))(inp))])
    _fd_check(fastann.Model(inp, out, dtype="float64"), x.copy(), rng=rng)


def test_conv_batchnorm_residual_block_finite_differences(rng):
    """Conv2D -> BatchNormalization (batch statistics) -> Add -> ReLU in a graph, checked in training mode;
    images are channels_last (N, H, W, C), and the Conv2D -> BatchNormalization chain passes NCHW between
    them (the graph's layout plan)."""
    inp = fastann.Input((5, 5, 2))
    h = layers.BatchNormalization()(layers.Conv2D(2, 3, padding="same", use_bias=False)(inp))
    out = layers.Dense(3)(layers.Flatten()(layers.Activation("relu")(layers.Add()([inp, h]))))
    model = fastann.Model(inp, out, dtype="float64", seed=0)
    conv, bn = model.layers[1], model.layers[2]
    assert (conv._nchw_in, conv._nchw_out, bn._nchw_in, bn._nchw_out) == (False, True, True, False)
    x, r = rng.standard_normal((4, 5, 5, 2)), rng.standard_normal((4, 3))
    model(x, training=True)
    grads, dx = model.gradients(r)
    eps = 1e-6

    def fd(a, i):
        flat = a.reshape(-1)
        old = flat[i]
        flat[i] = old + eps
        up = float((model(x, training=True) * r).sum())
        flat[i] = old - eps
        down = float((model(x, training=True) * r).sum())
        flat[i] = old
        return (up - down) / (2 * eps)

    for a, g in list(zip(model.trainable_weights, grads)) + [(x, dx)]:
        for i in rng.choice(a.size, size=min(4, a.size), replace=False):
            assert abs(fd(a, i) - g.reshape(-1)[i]) < 1e-6 * max(1.0, abs(g.reshape(-1)[i]))


def test_gan_pattern_and_step_api_match_keras(rng):
    """The GAN pattern with train_on_batch, against Keras 3 (same weights, SGD): the same losses returned
    and the same weights after each step (which weights move, and by how much). Keras 3 reads the
    trainable flags at every step, so the discriminator is unfrozen around its own steps, as Keras 3 code
    does; fastann's compile-time rule gives the same steps with or without those lines."""
    pytest.importorskip("torch", reason="Keras runs on the PyTorch backend here")
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed (the comparison venv has it)")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras is not on the PyTorch backend in this process")

    def build(api, inp, dense):
        gen = api.Sequential([inp((3,)), dense(5, activation="tanh")], name="gen")
        disc = api.Sequential([inp((5,)), dense(4, activation="relu"), dense(1, activation="sigmoid")], name="disc")
        return gen, disc

    fa = build(fastann, fastann.Input, layers.Dense)
    ke = build(keras, keras.Input, keras.layers.Dense)
    for f_model, k_model in zip(fa, ke):
        k_model.set_weights(f_model.get_weights())  # Dense kernels in Keras's (in, units) layout
    models = []
    for (gen, disc), api, inp in ((fa, fastann, fastann.Input), (ke, keras, keras.Input)):
        disc.compile(optimizer=api.optimizers.SGD(0.5), loss="binary_crossentropy")
        disc.trainable = False
        z = inp((3,))
        combined = api.Model(z, disc(gen(z)))
        combined.compile(optimizer=api.optimizers.SGD(0.5), loss="binary_crossentropy")
        models.append((gen, disc, combined))
    real = rng.standard_normal((8, 5)).astype(np.float32)
    noise = rng.standard_normal((8, 3)).astype(np.float32)
    ones, zeros = np.ones((8, 1), np.float32), np.zeros((8, 1), np.float32)
    for _ in range(2):
        results = []
        for gen, disc, combined in models:
            disc.trainable = True
            d_real = disc.train_on_batch(real, ones)
            d_fake = disc.train_on_batch(gen.predict_on_batch(noise), zeros)
            disc.trainable = False
            g_loss = combined.train_on_batch(noise, ones)
            results.append(([d_real, d_fake, g_loss], gen.get_weights() + disc.get_weights()))
        (f_losses, f_w), (k_losses, k_w) = results
        np.testing.assert_allclose(f_losses, k_losses, rtol=2e-5)
        for a, b in zip(f_w, k_w):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


def test_frozen_convolutions_skip_their_weight_gradients(rng):
    """A frozen Conv2D / Conv2DTranspose (a GAN's discriminator inside the combined model) passes the same
    input gradient back but computes no weight gradients: grads is emptied, not left stale."""
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    d = fastann.Sequential([layers.Input((6, 6, 2)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                            layers.MaxPooling2D(2),   # the Conv2D(relu) -> pool run is a fused stage
                            layers.Conv2DTranspose(3, 3, strides=2, padding="same"),
                            layers.Conv2D(2, 3, strides=2), layers.Flatten(), layers.Dense(1)], seed=3)
    dy = rng.standard_normal((3, 1)).astype(np.float32)
    d(x, training=True)
    grads, dx_trainable = d.gradients(dy)
    assert len(grads) == 8
    d.trainable = False
    d(x, training=True)
    frozen_grads, dx_frozen = d.gradients(dy)
    assert frozen_grads == [] and np.array_equal(dx_trainable, dx_frozen)
    assert all(layer.grads == {} for layer in d.layers if isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)))
