"""bench_dense.py: per-call cost of the dense-network elementwise kernels at the MLP's training shapes.

    PYTHONPATH=python python benchmarks/bench_dense.py      (or with fastann installed: python benchmarks/bench_dense.py)

Times fastann.ops (relu, relu_backward, sigmoid, softmax, the fused cross_entropy_with_grad, dropout, and
Adam over the six parameter arrays of the 784-300-100-10 MLP) against the plain NumPy expressions a
textbook MLP uses, float32, batch 128, at 1 and 2 threads. Each number is the MINIMUM over several hundred
single calls (microseconds): on a shared machine a median mostly measures the neighbours. NumPy's
elementwise ufuncs do not use BLAS; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the environment
anyway (this script re-executes itself without them), as the project's benchmarks do.
"""
import os
import sys

if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("OPENBLAS_L2_SIZE"):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import numpy as np, time, fastann
from fastann import ops
def T(f, n=400):
    best=1e9
    for _ in range(n):
        t=time.perf_counter(); f(); best=min(best, time.perf_counter()-t)
    return best*1e6
rng=np.random.default_rng(0)
for nt in (1, 2):
    fastann.set_num_threads(nt)
    h=rng.standard_normal((128,300)).astype(np.float32); g=rng.standard_normal((128,300)).astype(np.float32)
    z=rng.standard_normal((128,10)).astype(np.float32); y=rng.integers(0,10,128)
    r={}
    r["ops.relu 128x300"]=T(lambda: ops.relu(h)); r["np.maximum"]=T(lambda: np.maximum(h,0))
    r["ops.relu_backward"]=T(lambda: ops.relu_backward(g,h)); r["np g*(h>0)"]=T(lambda: g*(h>0))
    r["ops.sigmoid"]=T(lambda: ops.sigmoid(h)); r["np 1/(1+exp(-x))"]=T(lambda: 1/(1+np.exp(-h)))
    r["ops.softmax 128x300"]=T(lambda: ops.softmax(h))
    r["ops.cross_entropy_with_grad 128x10"]=T(lambda: ops.cross_entropy_with_grad(z,y))
    r["ops.dropout 128x300"]=T(lambda: ops.dropout(h,0.5,seed=1))
    tot=0; totnp=0
    for n in [235200,300,30000,100,1000,10]:
        p=rng.standard_normal(n).astype(np.float32); gg=rng.standard_normal(n).astype(np.float32); m=np.zeros_like(p); v=np.zeros_like(p)
        tot+=T(lambda: ops.adam_step(p,gg,m,v,step=3), 200)
        def np_adam():
            m[:]=0.9*m+0.1*gg; v[:]=0.999*v+0.001*gg*gg
            p[:]-=1e-3/(1-0.9**3)*m/(np.sqrt(v/(1-0.999**3))+1e-7)
        totnp+=T(np_adam, 200)
    r["ops.adam_step x6 (MLP 784-300-100-10)"]=tot; r["numpy textbook Adam x6"]=totnp
    print(f"threads={nt} (us, min per call):")
    for k, v in r.items():
        print(f"  {k:42s} {v:8.1f}")
