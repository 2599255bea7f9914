// args/embedding.hpp: signatures and argument parsing of embedding_forward / embedding_backward (a table row
// gather and its scatter-add), written once for any backend. Layouts: see csrc/include/fastann/cpu/embedding.hpp.
#pragma once

#include <vector>

#include "checks.hpp"

namespace fastann::bindings {

struct EmbeddingCall {
  FloatType ft;
  bool idx64 = true;              // indices int64 (else int32)
  int64_t L = 0, V = 0, D = 0;    // positions, table rows, row width
  int64_t padding_idx = -1;       // backward: the row whose gradient stays zero, -1 for none
  ArrayView dst, table_or_grad, indices;  // forward: out, weight; backward: dweight, grad_output
  bool backward = false;
};

// indices: int32 or int64, C-contiguous, any shape.
inline ArrayView embedding_indices(py::handle obj, Device dev, bool* idx64, const char* op) {
  ArrayView a = view_of(obj, dev, op, "indices");
  if (a.dtype != DType::i32 && a.dtype != DType::i64)
    type_fail(std::string(op) + ": indices must be int32 or int64, got dtype " + a.dtype_name());
  require_contiguous(a, op, "indices");
  *idx64 = a.dtype == DType::i64;
  return a;
}

template <class Run>
void def_embedding(py::module_& m, Device dev, const char* forward_doc, const char* backward_doc, Run run) {
  m.def(
      "embedding_forward",
      [dev, run](py::object out, py::object weight, py::object indices) {
        const char* op = "embedding_forward";
        EmbeddingCall c;
        c.table_or_grad = leading(weight, dev, &c.ft, op, "weight");
        require_ndim(c.table_or_grad, 2, op, "weight", "(num_embeddings, embedding_dim)");
        c.V = c.table_or_grad.shape[0], c.D = c.table_or_grad.shape[1];
        c.indices = embedding_indices(indices, dev, &c.idx64, op);
        c.L = c.indices.size;
        c.dst = output(out, dev, c.ft, op, "out");
        std::vector<int64_t> want(c.indices.shape.begin(), c.indices.shape.end());
        want.push_back(c.D);
        require_shape(c.dst, want, op, "out");
        require_disjoint(op, {{c.dst, "out"}}, {{c.table_or_grad, "weight"}, {c.indices, "indices"}});
        run(c);
      },
      py::arg("out"), py::arg("weight"), py::arg("indices"), forward_doc);
  m.def(
      "embedding_backward",
      [dev, run](py::object dweight, py::object grad_output, py::object indices, py::object padding_idx) {
        const char* op = "embedding_backward";
        EmbeddingCall c;
        c.backward = true;
        c.dst = leading(dweight, dev, &c.ft, op, "dweight", /*out=*/true);
        require_ndim(c.dst, 2, op, "dweight", "(num_embeddings, embedding_dim)");
        c.V = c.dst.shape[0], c.D = c.dst.shape[1];
        c.indices = embedding_indices(indices, dev, &c.idx64, op);
        c.L = c.indices.size;
        c.table_or_grad = input(grad_output, dev, c.ft, op, "grad_output");
        std::vector<int64_t> want(c.indices.shape.begin(), c.indices.shape.end());
        want.push_back(c.D);
        require_shape(c.table_or_grad, want, op, "grad_output");
        if (!padding_idx.is_none()) {
          c.padding_idx = to_int64(padding_idx, op, "padding_idx");
          FASTANN_CHECK(c.padding_idx >= 0 && c.padding_idx < c.V, op, ": padding_idx must be None or in [0, ",
                        c.V, "), got ", c.padding_idx);
        }
        require_disjoint(op, {{c.dst, "dweight"}}, {{c.table_or_grad, "grad_output"}, {c.indices, "indices"}});
        run(c);
      },
      py::arg("dweight"), py::arg("grad_output"), py::arg("indices"), py::arg("padding_idx") = py::none(),
      backward_doc);
}

}  // namespace fastann::bindings
