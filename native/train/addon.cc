// N-API glue for the training kernels: argument checks (types, and every array at least as long as
// the dimensions need, so no kernel reads or writes out of bounds), then the synchronous call.
// src/train/internal/native-kernels.ts documents each export.
#include <node_api.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <new>
#include <cstdio>
#include <string>

#include "kernels.h"
#include "pool.h"

namespace {

struct Args {
  napi_env env;
  napi_value argv[16];
  size_t argc = 16;
  bool failed = false;
  const char* fn;

  Args(napi_env e, napi_callback_info info, const char* name, size_t want) : env(e), fn(name) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) fail("cannot read arguments");
    else if (argc < want) fail(("expects " + std::to_string(want) + " arguments").c_str());
  }

  void fail(const char* msg, bool range = false) {
    if (failed) return;
    failed = true;
    std::string text = std::string(fn) + ": " + msg;
    if (range) napi_throw_range_error(env, "ERR_OUT_OF_RANGE", text.c_str());
    else napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text.c_str());
  }

  template <typename T>
  T* array(size_t i, napi_typedarray_type want, const char* name, size_t min_len, bool nullable = false) {
    if (failed) return nullptr;
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    if (nullable && (t == napi_null || t == napi_undefined)) return nullptr;
    bool is_typed = false;
    napi_is_typedarray(env, argv[i], &is_typed);
    napi_typedarray_type type;
    size_t len = 0;
    void* data = nullptr;
    if (is_typed) napi_get_typedarray_info(env, argv[i], &type, &len, &data, nullptr, nullptr);
    const char* kind = want == napi_float32_array ? "a Float32Array"
                       : want == napi_int32_array ? "an Int32Array"
                                                  : "a Float64Array";
    if (!is_typed || type != want) {
      fail((std::string(name) + " must be " + kind).c_str());
      return nullptr;
    }
    if (len < min_len) {
      fail((std::string(name) + " has " + std::to_string(len) + " elements, needs " + std::to_string(min_len)).c_str(),
           true);
      return nullptr;
    }
    return static_cast<T*>(data);
  }
  float* f32(size_t i, const char* name, size_t min_len, bool nullable = false) {
    return array<float>(i, napi_float32_array, name, min_len, nullable);
  }
  size_t length(size_t i) {
    if (failed) return 0;
    bool is_typed = false;
    napi_is_typedarray(env, argv[i], &is_typed);
    if (!is_typed) return 0;
    napi_typedarray_type type;
    size_t len = 0;
    napi_get_typedarray_info(env, argv[i], &type, &len, nullptr, nullptr, nullptr);
    return len;
  }
  double number(size_t i, const char* name) {
    if (failed) return 0;
    double v = 0;
    if (napi_get_value_double(env, argv[i], &v) != napi_ok || !std::isfinite(v)) fail((std::string(name) + " must be a finite number").c_str());
    return v;
  }
  int dim(size_t i, const char* name, int min = 0) {
    double v = number(i, name);
    if (!failed && (v != std::floor(v) || v < min || v > 1e9)) fail((std::string(name) + " must be an integer >= " + std::to_string(min)).c_str(), true);
    return static_cast<int>(v);
  }
  bool flag(size_t i) {
    bool v = false;
    if (!failed && napi_get_value_bool(env, argv[i], &v) != napi_ok) fail("flags must be booleans");
    return v;
  }
  // Every matrix the GEMM touches stays below 2^28 elements (1 GiB of floats), so no index,
  // split or pointer offset in the kernels can overflow a 32-bit int.
  void matrices(std::initializer_list<std::pair<int, int>> shapes) {
    for (auto [r, c] : shapes)
      if (!failed && static_cast<int64_t>(r) * c > (int64_t{1} << 28)) fail("a matrix exceeds 2^28 elements", true);
  }
  // Outputs may not overlap any other array of the call.
  void disjoint(std::initializer_list<std::pair<const void*, size_t>> outputs,
                std::initializer_list<std::pair<const void*, size_t>> all) {
    for (auto [o, on] : outputs)
      for (auto [p, pn] : all) {
        if (failed || o == nullptr || p == nullptr || on == 0 || pn == 0) continue;
        auto a = static_cast<const char*>(o);
        auto b = static_cast<const char*>(p);
        if (a < b + pn && b < a + on) fail("an output array overlaps another argument", true);
      }
  }
};

napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

napi_value undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

bool act_of(Args& a, size_t i, st::Act* act) {
  int v = a.dim(i, "activation");
  if (a.failed) return false;
  if (v > st::ACT_SIGMOID) {
    a.fail("activation must be 0..4", true);
    return false;
  }
  *act = static_cast<st::Act>(v);
  return true;
}

size_t sz(int a, int b) { return static_cast<size_t>(a) * static_cast<size_t>(b); }

// gemm(transA, transB, m, n, k, a, b, c, accumulate)
napi_value Gemm(napi_env env, napi_callback_info info) {
  Args a(env, info, "gemm", 9);
  bool ta = a.flag(0), tb = a.flag(1);
  int m = a.dim(2, "m"), n = a.dim(3, "n"), k = a.dim(4, "k");
  const float* A = a.f32(5, "a", sz(m, k));
  const float* B = a.f32(6, "b", sz(k, n));
  float* C = a.f32(7, "c", sz(m, n));
  bool acc = a.flag(8);
  a.matrices({{m, k}, {k, n}, {m, n}});
  a.disjoint({{C, sz(m, n) * 4}}, {{A, sz(m, k) * 4}, {B, sz(k, n) * 4}});
  if (a.failed) return nullptr;
  st::FlushDenormals ftz;
  st::gemm(ta, tb, m, n, k, A, B, C, acc, nullptr);
  return undefined(env);
}

// denseForward(x, w, b, y, z|null, rows, in, out, act)
napi_value DenseForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "denseForward", 9);
  int rows = a.dim(5, "rows"), in = a.dim(6, "inputSize", 1), out = a.dim(7, "outputSize", 1);
  st::Epilogue e;
  const float* x = a.f32(0, "x", sz(rows, in));
  const float* w = a.f32(1, "w", sz(in, out));
  e.bias = a.f32(2, "b", out);
  float* y = a.f32(3, "y", sz(rows, out));
  e.z = a.f32(4, "z", sz(rows, out), true);
  a.matrices({{rows, in}, {in, out}, {rows, out}});
  a.disjoint({{y, sz(rows, out) * 4}, {e.z, sz(rows, out) * 4}}, {{x, sz(rows, in) * 4}, {w, sz(in, out) * 4}, {e.bias, sz(1, out) * 4}});
  if (e.z == y) a.fail("y and z must be different arrays", true);
  if (!act_of(a, 8, &e.act) || a.failed) return nullptr;
  st::FlushDenormals ftz;
  st::gemm(false, false, rows, out, in, x, w, y, false, &e);
  return undefined(env);
}

// denseBackward(x, w, y, z|null, dy, dw, db, dx|null, rows, in, out, act): dy becomes dz.
napi_value DenseBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "denseBackward", 12);
  int rows = a.dim(8, "rows"), in = a.dim(9, "inputSize", 1), out = a.dim(10, "outputSize", 1);
  st::Act act = st::ACT_LINEAR;
  const float* x = a.f32(0, "x", sz(rows, in));
  const float* w = a.f32(1, "w", sz(in, out));
  const float* y = a.f32(2, "y", sz(rows, out));
  act_of(a, 11, &act);
  const float* z = a.f32(3, "z", sz(rows, out), act != st::ACT_GELU);
  float* dy = a.f32(4, "dy", sz(rows, out));
  float* dw = a.f32(5, "dw", sz(in, out));
  float* db = a.f32(6, "db", out);
  float* dx = a.f32(7, "dx", sz(rows, in), true);
  a.matrices({{rows, in}, {in, out}, {rows, out}});
  a.disjoint({{dy, sz(rows, out) * 4}, {dw, sz(in, out) * 4}, {db, sz(1, out) * 4}, {dx, sz(rows, in) * 4}},
             {{x, sz(rows, in) * 4}, {w, sz(in, out) * 4}, {y, sz(rows, out) * 4}, {z, sz(rows, out) * 4}});
  a.disjoint({{dw, sz(in, out) * 4}, {db, sz(1, out) * 4}, {dx, sz(rows, in) * 4}}, {{dy, sz(rows, out) * 4}});
  a.disjoint({{dw, sz(in, out) * 4}}, {{db, sz(1, out) * 4}, {dx, sz(rows, in) * 4}});
  a.disjoint({{db, sz(1, out) * 4}}, {{dx, sz(rows, in) * 4}});
  if (a.failed) return nullptr;
  st::FlushDenormals ftz;
  st::activation_backward(act, y, z, dy, sz(rows, out));
  st::column_sums(dy, rows, out, db);
  st::gemm(true, false, in, out, rows, x, dy, dw, false, nullptr);
  if (dx) st::gemm(false, true, rows, in, out, dy, w, dx, false, nullptr);
  return undefined(env);
}

// dropout(v, seed, stream, threshold, scale)
napi_value Dropout(napi_env env, napi_callback_info info) {
  Args a(env, info, "dropout", 5);
  float* v = a.f32(0, "v", 0);
  double seed = a.number(1, "seed"), stream = a.number(2, "stream"), threshold = a.number(3, "threshold");
  float scale = static_cast<float>(a.number(4, "scale"));
  for (double x : {seed, stream, threshold})
    if (!a.failed && (x < 0 || x > 4294967295.0 || x != std::floor(x)))
      a.fail("seed, stream and threshold must be integers from 0 to 2^32 - 1", true);
  if (a.failed) return nullptr;
  st::FlushDenormals ftz;
  st::dropout(v, a.length(0), static_cast<uint32_t>(seed), static_cast<uint32_t>(stream),
              static_cast<uint32_t>(threshold), scale);
  return undefined(env);
}

// softmaxCrossEntropy(logits, labels, rows, classes, grad, scale) → summed loss
napi_value SoftmaxCrossEntropy(napi_env env, napi_callback_info info) {
  Args a(env, info, "softmaxCrossEntropy", 6);
  int rows = a.dim(2, "rows"), classes = a.dim(3, "classes", 1);
  const float* logits = a.f32(0, "logits", sz(rows, classes));
  const int32_t* labels = a.array<int32_t>(1, napi_int32_array, "labels", rows);
  float* grad = a.f32(4, "grad", sz(rows, classes));
  float scale = static_cast<float>(a.number(5, "scale"));
  a.disjoint({{grad, sz(rows, classes) * 4}}, {{logits, sz(rows, classes) * 4}, {labels, sz(1, rows) * 4}});
  if (a.failed) return nullptr;
  st::FlushDenormals ftz;
  for (int r = 0; r < rows; r++)
    if (labels[r] < 0 || labels[r] >= classes) {
      a.fail(("label " + std::to_string(labels[r]) + " at row " + std::to_string(r) + " is outside 0.." +
              std::to_string(classes - 1)).c_str(), true);
      return nullptr;
    }
  return number(env, st::softmax_cross_entropy(logits, labels, rows, classes, grad, scale));
}

// sigmoidCrossEntropy / squaredError(pred, targets, grad, scale) → summed loss
template <double (*F)(const float*, const float*, size_t, float*, float), const char* Name>
napi_value Pointwise(napi_env env, napi_callback_info info) {
  Args a(env, info, Name, 4);
  size_t n = a.length(0);
  const float* p = a.f32(0, "pred", 0);
  const float* t = a.f32(1, "targets", n);
  float* g = a.f32(2, "grad", n);
  float scale = static_cast<float>(a.number(3, "scale"));
  a.disjoint({{g, n * 4}}, {{p, n * 4}, {t, n * 4}});
  if (a.failed) return nullptr;
  st::FlushDenormals ftz;
  return number(env, F(p, t, n, g, scale));
}

constexpr char kSigmoidCrossEntropy[] = "sigmoidCrossEntropy";
constexpr char kSquaredError[] = "squaredError";

napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info, "sumSquares", 1);
  const float* v = a.f32(0, "v", 0);
  if (a.failed) return nullptr;
  st::FlushDenormals ftz;
  return number(env, st::sum_squares(v, a.length(0)));
}

// rowSumSquares(m, rows, cols, out)
napi_value RowSumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info, "rowSumSquares", 4);
  int rows = a.dim(1, "rows"), cols = a.dim(2, "cols");
  const float* m = a.f32(0, "m", sz(rows, cols));
  double* out = a.array<double>(3, napi_float64_array, "out", rows);
  if (a.failed) return nullptr;
  st::FlushDenormals ftz;
  st::row_sum_squares(m, rows, cols, out);
  return undefined(env);
}

// adamStep(w, g, m, v, lr, beta1, beta2, eps, weightDecay, gradScale, biasCorrection1, biasCorrection2Sqrt, decoupled)
napi_value AdamStep(napi_env env, napi_callback_info info) {
  Args a(env, info, "adamStep", 13);
  size_t n = a.length(0);
  float* w = a.f32(0, "w", 0);
  const float* g = a.f32(1, "g", n);
  float* m = a.f32(2, "m", n);
  float* v = a.f32(3, "v", n);
  a.disjoint({{w, n * 4}, {m, n * 4}, {v, n * 4}}, {{g, n * 4}});
  if (!a.failed && (w == m || w == v || m == v)) a.fail("w, m and v must be different arrays", true);
  st::AdamParams p{};
  p.lr = a.number(4, "lr");
  p.beta1 = a.number(5, "beta1");
  p.beta2 = a.number(6, "beta2");
  p.eps = a.number(7, "eps");
  p.weight_decay = a.number(8, "weightDecay");
  p.grad_scale = a.number(9, "gradScale");
  p.bias_correction1 = a.number(10, "biasCorrection1");
  p.bias_correction2_sqrt = a.number(11, "biasCorrection2Sqrt");
  p.decoupled = a.flag(12);
  if (a.failed) return nullptr;
  st::FlushDenormals ftz;
  st::adam_step(w, g, m, v, n, p);
  return undefined(env);
}

// sgdStep(w, g, velocity, lr, momentum, weightDecay, gradScale, nesterov, firstStep)
napi_value SgdStep(napi_env env, napi_callback_info info) {
  Args a(env, info, "sgdStep", 9);
  size_t n = a.length(0);
  float* w = a.f32(0, "w", 0);
  const float* g = a.f32(1, "g", n);
  float* vel = a.f32(2, "velocity", n);
  a.disjoint({{w, n * 4}, {vel, n * 4}}, {{g, n * 4}});
  if (!a.failed && w == vel) a.fail("w and velocity must be different arrays", true);
  st::SgdParams p{};
  p.lr = a.number(3, "lr");
  p.momentum = static_cast<float>(a.number(4, "momentum"));
  p.weight_decay = a.number(5, "weightDecay");
  p.grad_scale = a.number(6, "gradScale");
  p.nesterov = a.flag(7);
  p.first_step = a.flag(8);
  if (a.failed) return nullptr;
  st::FlushDenormals ftz;
  st::sgd_step(w, g, vel, n, p);
  return undefined(env);
}

napi_value WipeScratch(napi_env env, napi_callback_info) {
  st::wipe_scratch();
  return undefined(env);
}

napi_value ScratchNonZero(napi_env env, napi_callback_info) {
  return number(env, static_cast<double>(st::scratch_nonzero()));
}

// configure(isa?: 'avx512'|'avx2'|'portable'|null, threads?: n|null) → { isa, threads, avx2Available, avx512Available }
napi_value Configure(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc >= 1) {
    napi_valuetype t;
    napi_typeof(env, argv[0], &t);
    if (t != napi_undefined && t != napi_null && t != napi_string) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "configure: isa must be a string");
      return nullptr;
    }
    if (t == napi_string) {
      char buf[16];
      size_t len;
      napi_get_value_string_utf8(env, argv[0], buf, sizeof buf, &len);
      std::string isa(buf, len);
      if (isa == "avx512") st::set_isa(st::ISA_AVX512);
      else if (isa == "avx2") st::set_isa(st::ISA_AVX2);
      else if (isa == "portable") st::set_isa(st::ISA_PORTABLE);
      else {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "configure: isa must be 'avx512', 'avx2' or 'portable'");
        return nullptr;
      }
    }
  }
  if (argc >= 2) {
    double threads;
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t != napi_undefined && t != napi_null && t != napi_number) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "configure: threads must be a number");
      return nullptr;
    }
    if (t == napi_number && napi_get_value_double(env, argv[1], &threads) == napi_ok) {
      if (!(threads >= 1 && threads <= 64 && threads == std::floor(threads))) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "configure: threads must be an integer from 1 to 64");
        return nullptr;
      }
      st::set_threads(static_cast<int>(threads));
    }
  }
  napi_value out, isa, threads, avx2, avx512;
  napi_create_object(env, &out);
  const st::Isa current = st::current_isa();
  const char* name = current == st::ISA_AVX512 ? "avx512" : current == st::ISA_AVX2 ? "avx2" : "portable";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &isa);
  napi_create_int32(env, st::current_threads(), &threads);
  napi_get_boolean(env, st::cpu_has_avx2(), &avx2);
  napi_get_boolean(env, st::cpu_has_avx512(), &avx512);
  napi_set_named_property(env, out, "isa", isa);
  napi_set_named_property(env, out, "threads", threads);
  napi_set_named_property(env, out, "avx2Available", avx2);
  napi_set_named_property(env, out, "avx512Available", avx512);
  return out;
}

// Environments (the main thread and each worker_thread) that loaded the addon; the shared pool
// stops when the last one is torn down and starts again if another loads it.
std::mutex g_envs_mu;
int g_envs = 0;

// Runs an entry point and turns a C++ exception (an allocation that failed) into a JavaScript error.
template <napi_value (*F)(napi_env, napi_callback_info)>
napi_value Guarded(napi_env env, napi_callback_info info) {
  try {
    return F(env, info);
  } catch (const std::bad_alloc&) {
    napi_throw_error(env, "ERR_INTERNAL", "sealtrain_train: out of memory");
  } catch (const std::exception& e) {
    napi_throw_error(env, "ERR_INTERNAL", e.what());
  }
  return nullptr;
}

void Cleanup(void* token) {
  delete static_cast<int*>(token);
  std::lock_guard<std::mutex> lock(g_envs_mu);
  if (--g_envs == 0) st::Pool::instance().shutdown();
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"configure", nullptr, Guarded<Configure>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemm", nullptr, Guarded<Gemm>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"denseForward", nullptr, Guarded<DenseForward>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"denseBackward", nullptr, Guarded<DenseBackward>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"dropout", nullptr, Guarded<Dropout>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxCrossEntropy", nullptr, Guarded<SoftmaxCrossEntropy>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sigmoidCrossEntropy", nullptr, Guarded<Pointwise<st::sigmoid_cross_entropy, kSigmoidCrossEntropy>>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"squaredError", nullptr, Guarded<Pointwise<st::squared_error, kSquaredError>>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumSquares", nullptr, Guarded<SumSquares>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rowSumSquares", nullptr, Guarded<RowSumSquares>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamStep", nullptr, Guarded<AdamStep>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdStep", nullptr, Guarded<SgdStep>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"wipeScratch", nullptr, Guarded<WipeScratch>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scratchNonZero", nullptr, Guarded<ScratchNonZero>, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  {
    std::lock_guard<std::mutex> lock(g_envs_mu);
    if (g_envs++ == 0) st::Pool::instance().restart();
  }
  napi_add_env_cleanup_hook(env, Cleanup, new int(0));  // a distinct token per load
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
