# Type stub of fastann._cuda, generated from the compiled module with pybind11-stubgen (signatures and docstrings
# as bound in csrc/bindings/); regenerate after changing a binding: pybind11-stubgen fastann._cuda -o <dir>
"""
fastann CUDA kernels (hand-written CUDA; CuPy arrays in and out, launched on CuPy's current stream)
"""
from __future__ import annotations
import typing
__all__: list[str] = ['CONV2D_NUM_KERNELS', 'CudaError', 'GEMM_NUM_RUNGS', 'activation_backward', 'activation_forward', 'adadelta_step', 'adafactor_step', 'adagrad_step', 'adam_step', 'adam_step_multi', 'adamax_step', 'adamw_step', 'adamw_step_multi', 'avg_pool2d_backward', 'avg_pool2d_forward', 'batch_norm_backward', 'batch_norm_forward_inference', 'batch_norm_forward_training', 'binary_cross_entropy_backward', 'binary_cross_entropy_forward', 'binary_cross_entropy_with_logits_backward', 'binary_cross_entropy_with_logits_forward', 'categorical_crossentropy_backward', 'categorical_crossentropy_forward', 'compile_info', 'conv2d_backward_input', 'conv2d_backward_weight', 'conv2d_forward', 'conv2d_pick_rung', 'cross_entropy_backward', 'cross_entropy_forward', 'cross_entropy_with_grad', 'device_count', 'device_count_error', 'dropout_backward', 'dropout_bits', 'dropout_forward', 'embedding_backward', 'embedding_forward', 'ftrl_step', 'gemm', 'gemm_batched', 'get_device_name', 'get_device_properties', 'global_avg_pool2d_backward', 'global_avg_pool2d_forward', 'hinge_loss_backward', 'hinge_loss_forward', 'huber_loss_backward', 'huber_loss_forward', 'kl_divergence_backward', 'kl_divergence_forward', 'l1_loss_backward', 'l1_loss_forward', 'layer_norm_backward', 'layer_norm_forward', 'linear_backward', 'linear_forward', 'lion_step', 'log_cosh_loss_backward', 'log_cosh_loss_forward', 'log_softmax_backward', 'log_softmax_forward', 'max_pool2d_backward', 'max_pool2d_forward', 'mse_loss_backward', 'mse_loss_forward', 'nadam_mu', 'nadam_step', 'poisson_loss_backward', 'poisson_loss_forward', 'prelu_backward', 'prelu_forward', 'rmsprop_step', 'rnn_backward', 'rnn_forward', 'sgd_step', 'softmax_backward', 'softmax_forward', 'squared_hinge_loss_backward', 'squared_hinge_loss_forward', 'synchronize', 'upsample2d_backward', 'upsample2d_forward']
class CudaError(RuntimeError):
    pass
def activation_backward(dinput: typing.Any, grad_output: typing.Any, input: typing.Any, name: str, param: float = 0.0) -> None:
    """
    dinput = grad_output * f'(input) elementwise on the GPU (NaN where input is NaN). Same names, param and checks as activation_forward (dinput disjoint from the inputs).
    """
def activation_forward(out: typing.Any, input: typing.Any, name: str, param: float = 0.0) -> None:
    """
    out = f(input) elementwise on the GPU, f named by `name` (one of: linear, relu, leaky_relu, elu, selu, sigmoid, hard_sigmoid, tanh, softplus, softsign, relu6, silu, hard_silu, gelu, gelu_tanh, mish, exponential, identity, swish, hard_swish; 'gelu' is the exact erf form, 'gelu_tanh' the tanh approximation). `param` is leaky_relu's negative_slope or elu's alpha, ignored otherwise. out and input: C-contiguous float32/float64 CuPy arrays of one shape and dtype (non-empty; out may be input, no other overlap). TypeError for a non-CuPy array or a dtype, ValueError for a shape, contiguity, read-only output, overlap or unknown name.
    """
def adadelta_step(param: typing.Any, accum_grad: typing.Any, accum_update: typing.Any, grad: typing.Any, lr: float = 1.0, rho: float = 0.95, eps: float = 1e-07, weight_decay: float = 0.0) -> None:
    """
    Adadelta step in place (Zeiler 2012 / torch.optim.Adadelta): s = rho s + (1-rho) g^2; d = sqrt(u + eps) / sqrt(s + eps) g; u = rho u + (1-rho) d^2; p -= lr d.
    """
def adafactor_step(param: typing.Any, row_var: typing.Any, col_var: typing.Any, variance: typing.Any, grad: typing.Any, step: int, lr: float = 0.001, beta_2_decay: float = -0.8, epsilon_1: float = 1e-30, epsilon_2: float = 0.001, clip_threshold: float = 1.0) -> None:
    """
    Adafactor step in place (Shazeer & Stern 2018 / keras.optimizers.Adafactor): rho = min(lr, 1/sqrt(t)), b2 = 1 - t^beta_2_decay, G = g^2 + epsilon_1; rank >= 2: row_var (param.shape[:-1]) = b2 row_var + (1-b2) mean(G, -1), col_var (param.shape[:-2] + param.shape[-1:]) = b2 col_var + (1-b2) mean(G, -2), v = row_var / mean(row_var, -1) outer col_var; else variance = b2 variance + (1-b2) G, v = variance; u = g / sqrt(v); p -= max(epsilon_2, rms(p)) rho u / max(1, rms(u) / clip_threshold).
    """
def adagrad_step(param: typing.Any, accumulator: typing.Any, grad: typing.Any, lr: float, eps: float = 1e-07, weight_decay: float = 0.0) -> None:
    """
    Adagrad step in place (Duchi et al. 2011 / torch.optim.Adagrad): g = grad + wd p; acc += g^2; p -= lr g / (sqrt(acc) + eps).
    """
def adam_step(param: typing.Any, exp_avg: typing.Any, exp_avg_sq: typing.Any, max_exp_avg_sq: typing.Any, grad: typing.Any, step: int, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-07, weight_decay: float = 0.0) -> None:
    """
    Adam step in place (Kingma & Ba 2015 Alg. 1 / torch.optim.Adam, L2 weight decay): g = grad + wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; [AMSGrad: vmax = max(vmax, v), v = vmax]; p -= lr / (1-b1^t) * m / (sqrt(v / (1-b2^t)) + eps).
    """
def adam_step_multi(params: typing.Any, exp_avgs: typing.Any, exp_avg_sqs: typing.Any, max_exp_avg_sqs: typing.Any, grads: typing.Any, step: int, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-07, weight_decay: float = 0.0) -> None:
    """
    adam_step on every entry of the lists (params[i], exp_avgs[i], exp_avg_sqs[i], max_exp_avg_sqs[i] or None, grads[i]) in one call; all arrays of one dtype, entries disjoint; checked before any update.
    """
def adamax_step(param: typing.Any, exp_avg: typing.Any, exp_inf: typing.Any, grad: typing.Any, step: int, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-07, weight_decay: float = 0.0) -> None:
    """
    Adamax step in place (Kingma & Ba 2015 sec. 7.1 / torch.optim.Adamax): m = b1 m + (1-b1) g; u = max(b2 u, |g| + eps); p -= lr / (1-b1^t) m / u.
    """
def adamw_step(param: typing.Any, exp_avg: typing.Any, exp_avg_sq: typing.Any, max_exp_avg_sq: typing.Any, grad: typing.Any, step: int, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-07, weight_decay: float = 0.004) -> None:
    """
    AdamW step in place (Loshchilov & Hutter 2019 / torch.optim.AdamW): p *= 1 - lr wd, then the Adam update with g = grad.
    """
def adamw_step_multi(params: typing.Any, exp_avgs: typing.Any, exp_avg_sqs: typing.Any, max_exp_avg_sqs: typing.Any, grads: typing.Any, step: int, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-07, weight_decay: float = 0.004) -> None:
    """
    adamw_step on every entry of the lists (params[i], exp_avgs[i], exp_avg_sqs[i], max_exp_avg_sqs[i] or None, grads[i]) in one call; all arrays of one dtype, entries disjoint; checked before any update.
    """
def avg_pool2d_backward(dinput: typing.Any, grad_output: typing.Any, kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int], ceil_mode: bool, count_include_pad: bool) -> None:
    """
    Backward of avg_pool2d: dinput (N,C,H,W) <- grad_output (N,C,OH,OW).
    """
def avg_pool2d_forward(out: typing.Any, input: typing.Any, kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int], ceil_mode: bool, count_include_pad: bool) -> None:
    """
    2-D average pooling: out (N,C,OH,OW) <- input (N,C,H,W), PyTorch's divisor rules.
    """
def batch_norm_backward(dinput: typing.Any, dweight: typing.Any, dbias: typing.Any, grad_output: typing.Any, input: typing.Any, weight: typing.Any, save_mean: typing.Any, save_invstd: typing.Any) -> None:
    """
    Backward of training-mode batch norm in one fused pass per channel: dinput (N,C[,H,W]), dweight = sum(dy*xhat), dbias = sum(dy) (C,) <- grad_output, input, weight (or None: gamma = 1), save_mean, save_invstd.
    """
def batch_norm_forward_inference(out: typing.Any, input: typing.Any, running_mean: typing.Any, running_var: typing.Any, weight: typing.Any, bias: typing.Any, eps: float) -> None:
    """
    Batch norm, inference mode: out (N,C[,H,W]) <- input normalised with running_mean, running_var (C,).
    """
def batch_norm_forward_training(out: typing.Any, save_mean: typing.Any, save_invstd: typing.Any, running_mean: typing.Any, running_var: typing.Any, input: typing.Any, weight: typing.Any, bias: typing.Any, momentum: float, eps: float) -> None:
    """
    Batch norm, training mode: out (N,C[,H,W]), save_mean and save_invstd (C,) <- input; running_mean and running_var (C,) updated in place (PyTorch momentum, unbiased variance) unless None.
    """
def binary_cross_entropy_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, eps: float = 1e-07, grad_output: float = 1.0) -> None:
    """
    dinput = grad_output (p - t) / (p (1 - p)) / n where eps <= input <= 1-eps, else 0.
    """
def binary_cross_entropy_forward(out: typing.Any, input: typing.Any, target: typing.Any, eps: float = 1e-07) -> None:
    """
    out (0-d) = -mean(t log p + (1-t) log(1-p)), p = clip(input, eps, 1-eps) (Keras).
    """
def binary_cross_entropy_with_logits_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, grad_output: float = 1.0) -> None:
    """
    dinput = grad_output (sigmoid(input) - target) / n.
    """
def binary_cross_entropy_with_logits_forward(out: typing.Any, input: typing.Any, target: typing.Any) -> None:
    """
    out (0-d) = mean(max(x,0) - x t + log1p(exp(-|x|))), x = input logits.
    """
def categorical_crossentropy_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, eps: float = 1e-07, grad_output: float = 1.0, *, check_labels: bool = True) -> None:
    """
    dinput (N, C): gradient of categorical_crossentropy w.r.t. the probabilities (through the row normalisation and the clip).
    """
def categorical_crossentropy_forward(out: typing.Any, input: typing.Any, target: typing.Any, eps: float = 1e-07, *, check_labels: bool = True) -> None:
    """
    out (0-d) = mean_i -sum_j t_ij log q_ij, q = clip(p / rowsum(p), eps, 1-eps) (Keras, on probabilities). input (N, C) probabilities; target (N,) int32/int64 labels or (N, C) floats.
    """
def compile_info() -> dict:
    """
    How fastann._cuda was built: version, CUDA runtime version (CUDART_VERSION), architectures.
    """
def conv2d_backward_input(dinput: typing.Any, grad_output: typing.Any, weight: typing.Any, stride_h: int, stride_w: int, pad_top: int, pad_bottom: int, pad_left: int, pad_right: int, dilation_h: int, dilation_w: int, groups: int, padding_mode: str, rung: int) -> None:
    """
    dinput (N,C,H,W) = gradient of conv2d w.r.t. its input, from grad_output (N,OC,OH,OW) and weight.
    Also conv_transpose2d's forward.
    """
def conv2d_backward_weight(dweight: typing.Any, dbias: typing.Any, grad_output: typing.Any, input: typing.Any, stride_h: int, stride_w: int, pad_top: int, pad_bottom: int, pad_left: int, pad_right: int, dilation_h: int, dilation_w: int, groups: int, padding_mode: str, rung: int) -> None:
    """
    dweight (OC,C/groups,KH,KW) and dbias (OC, or None to skip) of conv2d from grad_output and input.
    """
def conv2d_forward(out: typing.Any, input: typing.Any, weight: typing.Any, bias: typing.Any, stride_h: int, stride_w: int, pad_top: int, pad_bottom: int, pad_left: int, pad_right: int, dilation_h: int, dilation_w: int, groups: int, padding_mode: str, rung: int) -> None:
    """
    out (N,OC,OH,OW) = conv2d(input (N,C,H,W), weight (OC,C/groups,KH,KW)) + bias (OC or None), on the GPU.
    rung: 0 auto, 1 direct, 2 im2col + fastann GEMM, 3 implicit GEMM. Raises TypeError (not CuPy arrays,
    dtype), ValueError (shapes, channels, stride/dilation/padding/groups, contiguity, overlap, rung).
    """
def conv2d_pick_rung(input_shape: list[int], weight_shape: list[int], stride_h: int, stride_w: int, pad_top: int, pad_bottom: int, pad_left: int, pad_right: int, dilation_h: int, dilation_w: int, groups: int, padding_mode: str, direction: int, dtype: str = 'float32') -> int:
    """
    The rung that rung=None runs on the GPU for this geometry (direction 0 forward, 1 input grad, 2 weight grad) and dtype.
    """
def cross_entropy_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, grad_output: float = 1.0, *, check_labels: bool = True) -> None:
    """
    dinput (N, C) = grad_output (sum_j t_ij softmax(x_i) - t_i) / N (= (softmax - onehot)/N for labels).
    """
def cross_entropy_forward(out: typing.Any, input: typing.Any, target: typing.Any, *, check_labels: bool = True) -> None:
    """
    out (0-d) = mean_i sum_j t_ij (logsumexp(x_i) - x_ij). input (N, C) logits float32/float64; target (N,) int32/int64 labels in [0, C) or (N, C) float probabilities of input's dtype. TypeError for a float 1-D target, ValueError naming an out-of-range label.
    """
def cross_entropy_with_grad(out: typing.Any, dinput: typing.Any, input: typing.Any, target: typing.Any, grad_output: float = 1.0, *, check_labels: bool = True) -> None:
    """
    Loss (into 0-d out) and dinput of cross_entropy in ONE pass over the logits.
    """
def device_count() -> int:
    """
    Number of visible CUDA devices; 0 (never an error) when there is no driver or device.
    """
def device_count_error() -> str:
    """
    Why device_count() is 0: the CUDA runtime's error, or '' when devices were found.
    """
def dropout_backward(dinput: typing.Any, grad_output: typing.Any, p: float, seed: int) -> None:
    """
    dinput = grad_output * (keep / (1 - p)) with the forward's mask (regenerated from p and seed).
    """
def dropout_bits(seed: int, i: int) -> int:
    """
    The 64 random bits dropout uses for flat element i under `seed` (host copy of the device function; must equal fastann._cpu.dropout_bits).
    """
def dropout_forward(out: typing.Any, input: typing.Any, p: float, seed: int) -> None:
    """
    Inverted dropout on the GPU: out[i] = input[i] * (keep[i] / (1 - p)), keep[i] = (splitmix64 bits of (seed, flat index i)) >> 32 >= ceil(p * 2^32): the same mask as fastann._cpu.dropout_forward. 0 <= p < 1.
    """
def embedding_backward(dweight: typing.Any, grad_output: typing.Any, indices: typing.Any, padding_idx: typing.Any = None) -> None:
    """
    Scatter-add of embedding_forward's gradient on the GPU: dweight (V, D) = sum over the positions p with indices[p] = v of grad_output[p], in increasing p (the CPU's order and bits); rows no index names and row padding_idx (None or an int in [0, V)) are zero.
    """
def embedding_forward(out: typing.Any, weight: typing.Any, indices: typing.Any) -> None:
    """
    Embedding lookup on the GPU (torch.nn.functional.embedding): out[..., :] = weight[indices[...], :]. weight (V, D) float32/float64; indices int32/int64 of any shape, every index in [0, V) (ValueError otherwise, nothing written; the check synchronises the stream); out indices.shape + (D,), of weight's dtype.
    """
def ftrl_step(param: typing.Any, accumulator: typing.Any, linear: typing.Any, grad: typing.Any, lr: float = 0.001, lr_power: float = -0.5, l1: float = 0.0, l2: float = 0.0, l2_shrinkage: float = 0.0, beta: float = 0.0) -> None:
    """
    FTRL-Proximal step in place (McMahan et al. 2013 / keras.optimizers.Ftrl): n' = n + g^2; s = (n'^-lr_power - n^-lr_power) / lr; z += g + 2 l2_shrinkage p - s p; q = n'^-lr_power / lr + 2 l2 + beta / lr; p = (clip(z, -l1, l1) - z) / q; n = n'.
    """
def gemm(c: typing.Any, a: typing.Any, b: typing.Any, trans_a: bool = False, trans_b: bool = False, alpha: float = 1.0, beta: float = 0.0, rung: int = 0) -> None:
    """
    c (M,N) = alpha * op(a) @ op(b) + beta * c on the GPU, in place. a (M,K) or (K,M) if trans_a, b (K,N) or
    (N,K) if trans_b; float32 (rungs 1-7) or float64 (rungs 1-5); rung 0/None = auto.
    beta == 0 never reads c. Raises TypeError (not CuPy arrays, dtype), ValueError (shapes, overlap, rung).
    """
def gemm_batched(c: typing.Any, a: typing.Any, b: typing.Any, trans_a: bool = False, trans_b: bool = False, alpha: float = 1.0, beta: float = 0.0, rung: int = 0) -> None:
    """
    CUDA only: c[z] = alpha * op(a[z]) @ op(b[z]) + beta * c[z] for every z, one launch (grid z). a (B,M,K)
    or (B,K,M), b (B,K,N) or (B,N,K), c (B,M,N); B <= 65535; same kernels and checks as gemm.
    """
def get_device_name(device: typing.SupportsInt | typing.SupportsIndex = 0) -> str:
    """
    Name of CUDA device `device` (ValueError when out of range or no GPU).
    """
def get_device_properties(device: typing.SupportsInt | typing.SupportsIndex = 0) -> dict:
    """
    Properties of CUDA device `device`: name, compute_capability, multiprocessor_count, total_memory (bytes), shared_memory_per_block_optin (bytes), clock_khz (SM clock; for peak-FLOP/s estimates).
    """
def global_avg_pool2d_backward(dinput: typing.Any, grad_output: typing.Any) -> None:
    """
    Backward of global_avg_pool2d: dinput (N,C,H,W) = grad_output (N,C) / (H*W), broadcast.
    """
def global_avg_pool2d_forward(out: typing.Any, input: typing.Any) -> None:
    """
    Global average pooling: out (N,C) <- input (N,C,H,W).
    """
def hinge_loss_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, grad_output: float = 1.0) -> None:
    """
    dinput = -grad_output y / n where 1 - y input > 0, else 0.
    """
def hinge_loss_forward(out: typing.Any, input: typing.Any, target: typing.Any) -> None:
    """
    out (0-d) = mean(max(1 - y input, 0)), y = 2 target - 1 when every target is 0 or 1, else target (Keras hinge).
    """
def huber_loss_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, delta: float = 1.0, grad_output: float = 1.0) -> None:
    """
    dinput = grad_output (e if |e| <= delta else delta sign(e)) / n.
    """
def huber_loss_forward(out: typing.Any, input: typing.Any, target: typing.Any, delta: float = 1.0) -> None:
    """
    out (0-d) = mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2), e = input - target (Keras Huber).
    """
def kl_divergence_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, eps: float = 1e-07, grad_output: float = 1.0) -> None:
    """
    dinput = -grad_output t / input / rows where eps <= input <= 1, else 0.
    """
def kl_divergence_forward(out: typing.Any, input: typing.Any, target: typing.Any, eps: float = 1e-07) -> None:
    """
    out (0-d) = sum(t log(t / p)) / rows, t = clip(target, eps, 1), p = clip(input, eps, 1), rows = size / last dimension (Keras KLDivergence).
    """
def l1_loss_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, grad_output: float = 1.0) -> None:
    """
    dinput = grad_output * sign(input - target) / n (0 where equal).
    """
def l1_loss_forward(out: typing.Any, input: typing.Any, target: typing.Any) -> None:
    """
    out (0-d) = mean|input - target|.
    """
def layer_norm_backward(dinput: typing.Any, dweight: typing.Any, dbias: typing.Any, grad_output: typing.Any, input: typing.Any, normalized_shape: list[int], weight: typing.Any, save_mean: typing.Any, save_invstd: typing.Any) -> None:
    """
    Backward of layer norm: dinput = invstd * (g - mean(g) - xhat * mean(g*xhat)), g = grad_output * weight (means over each row); dweight = sum over rows of grad_output*xhat, dbias = sum over rows of grad_output (normalized_shape; either may be None: not computed).
    """
def layer_norm_forward(out: typing.Any, save_mean: typing.Any, save_invstd: typing.Any, input: typing.Any, normalized_shape: list[int], weight: typing.Any, bias: typing.Any, eps: float) -> None:
    """
    Layer norm (Ba et al. 2016, torch.nn.functional.layer_norm): out <- (input - mean) * invstd * weight + bias over the trailing normalized_shape dimensions; save_mean, save_invstd = 1/sqrt(var + eps) (M,), M = input.size / prod(normalized_shape). weight, bias (normalized_shape) or None.
    """
def linear_backward(dinput: typing.Any, dweight: typing.Any, dbias: typing.Any, grad_output: typing.Any, input: typing.Any, weight: typing.Any, output: typing.Any = None, activation: typing.Any = None) -> None:
    """
    Gradients of linear_forward: dinput (N,in) (skipped when None), dweight (out,in), dbias (out,) (skipped
    when None). With activation='relu' grad_output is first masked by output > 0 (output required).
    """
def linear_forward(out: typing.Any, input: typing.Any, weight: typing.Any, bias: typing.Any = None, activation: typing.Any = None) -> None:
    """
    out (N,out) = input (N,in) @ weight (out,in).T + bias (out,) [then relu], one GEMM with a fused epilogue.
    """
def lion_step(param: typing.Any, exp_avg: typing.Any, grad: typing.Any, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.99, weight_decay: float = 0.0) -> None:
    """
    Lion step in place (Chen et al. 2023 Alg. 2 / keras.optimizers.Lion): p = p (1 - lr wd) - lr sign(b1 m + (1-b1) g); m = b2 m + (1-b2) g.
    """
def log_cosh_loss_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, grad_output: float = 1.0) -> None:
    """
    dinput = grad_output tanh(input - target) / n.
    """
def log_cosh_loss_forward(out: typing.Any, input: typing.Any, target: typing.Any) -> None:
    """
    out (0-d) = mean(log(cosh(input - target))) (Keras log_cosh).
    """
def log_softmax_backward(dinput: typing.Any, grad_output: typing.Any, output: typing.Any, dim: int = -1) -> None:
    """
    dinput = g - exp(y) * sum(g) along `dim`, y = log_softmax's output.
    """
def log_softmax_forward(out: typing.Any, input: typing.Any, dim: int = -1) -> None:
    """
    out = log_softmax(input) = x - max - log(sum(exp(x - max))) along `dim` on the GPU.
    """
def max_pool2d_backward(dinput: typing.Any, grad_output: typing.Any, indices: typing.Any) -> None:
    """
    Backward of max_pool2d: dinput (N,C,H,W) <- grad_output, indices (N,C,OH,OW). ValueError for an index outside [0, H*W).
    """
def max_pool2d_forward(out: typing.Any, indices: typing.Any, input: typing.Any, kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int], ceil_mode: bool, rung: int = 0) -> None:
    """
    2-D max pooling on the GPU: out, indices (N,C,OH,OW) <- input (N,C,H,W). indices: int64 flat ih*W+iw per plane. rung: 0 auto, 1 direct, 2 2x2/stride-2, 3 2x2/stride-2 with 128-bit loads.
    """
def mse_loss_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, grad_output: float = 1.0) -> None:
    """
    dinput = grad_output * 2 (input - target) / n.
    """
def mse_loss_forward(out: typing.Any, input: typing.Any, target: typing.Any) -> None:
    """
    out (0-d) = mean((input - target)^2). input, target: float32/float64 C-contiguous arrays of one shape.
    """
def nadam_mu(beta1: typing.SupportsFloat | typing.SupportsIndex, t: typing.SupportsInt | typing.SupportsIndex) -> float:
    """
    mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)), Nadam's momentum schedule.
    """
def nadam_step(param: typing.Any, exp_avg: typing.Any, exp_avg_sq: typing.Any, grad: typing.Any, step: int, mu_product: float, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-07, weight_decay: float = 0.0) -> None:
    """
    Nadam step in place (Dozat 2016; keras.optimizers.Nadam = torch.optim.NAdam): mu_t = b1 (1 - 0.5 0.96^(0.004 t)); m, v as Adam; p -= [lr (1-mu_t)/(1-P_t) g + lr mu_{t+1}/(1-P_t mu_{t+1}) m] / (sqrt(v/(1-b2^t)) + eps), P_t = mu_product = prod_{i<=t} mu_i (given by the caller).
    """
def poisson_loss_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, eps: float = 1e-07, grad_output: float = 1.0) -> None:
    """
    dinput = grad_output (1 - target / (input + eps)) / n.
    """
def poisson_loss_forward(out: typing.Any, input: typing.Any, target: typing.Any, eps: float = 1e-07) -> None:
    """
    out (0-d) = mean(input - target log(input + eps)) (Keras Poisson).
    """
def prelu_backward(dinput: typing.Any, dweight: typing.Any, grad_output: typing.Any, input: typing.Any, weight: typing.Any) -> None:
    """
    Backward of prelu: dinput = grad_output where input > 0, else weight[c] * grad_output; dweight[c] = sum of grad_output * input where input <= 0 over the channel's values (over everything when weight has 1 value).
    """
def prelu_forward(out: typing.Any, input: typing.Any, weight: typing.Any) -> None:
    """
    Parametric ReLU (He et al. 2015, torch.nn.functional.prelu): out = input where input > 0, else weight[c] * input; c the channel axis 1 (one channel for 1-D input); weight (C,) or (1,).
    """
def rmsprop_step(param: typing.Any, square_avg: typing.Any, momentum_buffer: typing.Any, grad_avg: typing.Any, grad: typing.Any, lr: float, rho: float = 0.9, eps: float = 1e-07, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
    """
    RMSprop step in place (torch.optim.RMSprop): g = grad + wd p; s = rho s + (1-rho) g^2; centered (grad_avg given): a = rho a + (1-rho) g, s' = s - a^2; d = g / (sqrt(s') + eps); momentum: buf = momentum buf + d, p -= lr buf; else p -= lr d.
    """
def rnn_backward(mode: str, dinput: typing.Any, dh0: typing.Any, dc0: typing.Any, dweight_ih: typing.Any, dweight_hh: typing.Any, dbias_ih: typing.Any, dbias_hh: typing.Any, grad_output: typing.Any, grad_h_n: typing.Any, grad_c_n: typing.Any, input: typing.Any, h0: typing.Any, c0: typing.Any, weight_ih: typing.Any, weight_hh: typing.Any, output: typing.Any, saved: typing.Any, go_backwards: bool = False, rung: int = 0) -> None:
    """
    Backpropagation through time on the GPU for rnn_forward's call with the same mode, input, h0, c0, weights, go_backwards. grad_output (N,T,H), grad_h_n, grad_c_n (N,H) or None (zeros). Writes dinput (N,T,F), dh0 (N,H), dc0 (N,H) (lstm; None otherwise), dweight_ih, dweight_hh, dbias_ih, dbias_hh (None: not computed).
    """
def rnn_forward(mode: str, output: typing.Any, h_n: typing.Any, c_n: typing.Any, saved: typing.Any, input: typing.Any, h0: typing.Any, c0: typing.Any, weight_ih: typing.Any, weight_hh: typing.Any, bias_ih: typing.Any, bias_hh: typing.Any, go_backwards: bool = False, rung: int = 0) -> None:
    """
    A recurrent layer over a whole sequence on the GPU. mode: 'rnn_tanh', 'rnn_relu', 'lstm' (gates i,f,g,o), 'gru' (r,z,n; reset after the product) or 'gru_reset_before'. input (N,T,F); h0, c0 (N,H) or None (zeros; c0 lstm only); weight_ih (G*H,F), weight_hh (G*H,H), bias_ih, bias_hh (G*H,) or None. Writes output (N,T,H), h_n (N,H), c_n (N,H) (lstm; None otherwise) and saved (N,T,S*H), S = 1 rnn, 5 lstm, 4 gru, what rnn_backward reads. go_backwards: step s reads input[:, T-1-s]. rung: 0 auto, 1 naive, 2 GEMM (fastann's CUDA GEMM). CuPy arrays, C-contiguous, one float dtype.
    """
def sgd_step(param: typing.Any, momentum_buffer: typing.Any, grad: typing.Any, lr: float, momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
    """
    SGD step in place (torch.optim.SGD): g = grad + wd p; buf = momentum buf + (1 - dampening) g; g = g + momentum buf (nesterov) or buf; p -= lr g. momentum_buffer may be None when momentum == 0.
    """
def softmax_backward(dinput: typing.Any, grad_output: typing.Any, output: typing.Any, dim: int = -1) -> None:
    """
    dinput = y * (g - sum(g * y)) along `dim`, y = softmax's output, g = grad_output.
    """
def softmax_forward(out: typing.Any, input: typing.Any, dim: int = -1) -> None:
    """
    out = softmax(input) along `dim` on the GPU (max-subtracted; a NaN makes its row NaN). float32/float64 CuPy arrays of one shape, any ndim.
    """
def squared_hinge_loss_backward(dinput: typing.Any, input: typing.Any, target: typing.Any, grad_output: float = 1.0) -> None:
    """
    dinput = -2 grad_output y max(1 - y input, 0) / n.
    """
def squared_hinge_loss_forward(out: typing.Any, input: typing.Any, target: typing.Any) -> None:
    """
    out (0-d) = mean(max(1 - y input, 0)^2), y as in hinge_loss (Keras squared_hinge).
    """
def synchronize() -> None:
    """
    Wait for all work on the current device (raises CudaError for an error of an earlier kernel).
    """
def upsample2d_backward(dinput: typing.Any, grad_output: typing.Any, scale_h: int, scale_w: int, mode: str, align_corners: bool) -> None:
    """
    dinput (N,C,H,W) = gradient of upsample2d from grad_output (N,C,H*sh,W*sw).
    """
def upsample2d_forward(out: typing.Any, input: typing.Any, scale_h: int, scale_w: int, mode: str, align_corners: bool) -> None:
    """
    out (N,C,H*sh,W*sw) = upsample of input (N,C,H,W), nearest or bilinear.
    """
CONV2D_NUM_KERNELS: int = 3
GEMM_NUM_RUNGS: int = 7
