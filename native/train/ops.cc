// Element-wise kernels: activations and their derivatives, dropout, losses, norms and the
// optimizer steps. Reductions run in one fixed order in double precision; the optimizer steps
// split the parameters into fixed ranges across threads (each element is independent).
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace st {

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// Splits [0, n) into fixed ranges for up to current_threads() threads, never below `grain` each.
template <typename F>
void parallel_ranges(size_t n, size_t grain, F&& fn) {
  int threads = static_cast<int>(std::min<size_t>(current_threads(), std::max<size_t>(1, n / grain)));
  Pool::instance().run(threads, [&](int t) {
    size_t begin = n * t / threads, end = n * (t + 1) / threads;
    fn(begin, end);
  });
}

inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

}  // namespace

float activate(Act act, float z) {
  switch (act) {
    case ACT_RELU:
      return z > 0.0f || z != z ? z : 0.0f;  // NaN stays NaN
    case ACT_GELU:
      return 0.5f * z * (1.0f + std::erf(z * kInvSqrt2));
    case ACT_TANH:
      return std::tanh(z);
    case ACT_SIGMOID:
      return 1.0f / (1.0f + std::exp(-z));
    case ACT_LINEAR:
    default:
      return z;
  }
}

void activation_backward(Act act, const float* y, const float* z, float* dy, size_t n) {
  switch (act) {
    case ACT_RELU:
      for (size_t i = 0; i < n; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      break;
    case ACT_GELU:
      for (size_t i = 0; i < n; i++) {
        float x = z[i];
        float cdf = 0.5f * (1.0f + std::erf(x * kInvSqrt2));
        float pdf = kInvSqrt2Pi * std::exp(-0.5f * x * x);
        dy[i] *= cdf + x * pdf;
      }
      break;
    case ACT_TANH:
      for (size_t i = 0; i < n; i++) dy[i] *= 1.0f - y[i] * y[i];
      break;
    case ACT_SIGMOID:
      for (size_t i = 0; i < n; i++) dy[i] *= y[i] * (1.0f - y[i]);
      break;
    case ACT_LINEAR:
    default:
      break;
  }
}

void column_sums(const float* dz, int rows, int cols, float* db) {
  for (int j = 0; j < cols; j++) db[j] = 0.0f;
  for (int r = 0; r < rows; r++) {
    const float* row = dz + static_cast<size_t>(r) * cols;
    for (int j = 0; j < cols; j++) db[j] += row[j];
  }
}

uint32_t dropout_hash(uint32_t seed, uint32_t stream, uint32_t index) {
  return mix32(mix32(seed ^ mix32(stream + 0x9e3779b9U)) ^ index);
}

void dropout(float* v, size_t n, uint32_t seed, uint32_t stream, uint32_t threshold, float scale) {
  uint32_t base = mix32(seed ^ mix32(stream + 0x9e3779b9U));
  for (size_t i = 0; i < n; i++) {
    bool keep = mix32(base ^ static_cast<uint32_t>(i)) >= threshold;
    v[i] = keep ? v[i] * scale : 0.0f;
  }
}

double softmax_cross_entropy(const float* logits, const int32_t* labels, int rows, int classes, float* grad,
                             float scale) {
  double total = 0.0;
  for (int r = 0; r < rows; r++) {
    const float* x = logits + static_cast<size_t>(r) * classes;
    float* g = grad + static_cast<size_t>(r) * classes;
    float max = x[0];
    for (int j = 1; j < classes; j++) max = std::max(max, x[j]);
    double sum = 0.0;
    for (int j = 0; j < classes; j++) sum += std::exp(static_cast<double>(x[j] - max));
    double log_sum = std::log(sum);
    int label = labels[r];
    total += log_sum - static_cast<double>(x[label] - max);
    for (int j = 0; j < classes; j++) {
      double p = std::exp(static_cast<double>(x[j] - max) - log_sum);
      g[j] = static_cast<float>((p - (j == label ? 1.0 : 0.0)) * scale);
    }
  }
  return total;
}

double sigmoid_cross_entropy(const float* logits, const float* targets, size_t n, float* grad, float scale) {
  double total = 0.0;
  for (size_t i = 0; i < n; i++) {
    double x = logits[i], t = targets[i];
    total += std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::fabs(x)));
    double p = x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
    grad[i] = static_cast<float>((p - t) * scale);
  }
  return total;
}

double squared_error(const float* pred, const float* targets, size_t n, float* grad, float scale) {
  double total = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = static_cast<double>(pred[i]) - targets[i];
    total += d * d;
    grad[i] = static_cast<float>(2.0 * d * scale);
  }
  return total;
}

double sum_squares(const float* v, size_t n) {
  double total = 0.0;
  for (size_t i = 0; i < n; i++) total += static_cast<double>(v[i]) * v[i];
  return total;
}

void row_sum_squares(const float* m, int rows, int cols, double* out) {
  for (int r = 0; r < rows; r++) out[r] = sum_squares(m + static_cast<size_t>(r) * cols, cols);
}

namespace {

struct AdamConsts {
  float b1, b2, c1, c2, step, decay, wd, gs, bc2, eps;
};

AdamConsts adam_consts(const AdamParams& p) {
  auto f = [](double x) { return static_cast<float>(x); };
  return {f(p.beta1), f(p.beta2), f(1.0 - p.beta1), f(1.0 - p.beta2), f(p.lr / p.bias_correction1),
          f(1.0 - p.lr * p.weight_decay), f(p.weight_decay), f(p.grad_scale), f(p.bias_correction2_sqrt), f(p.eps)};
}

// One element, in the order the vector versions use, so every path rounds alike.
template <bool Decoupled>
inline void adam_one(float* w, const float* g, float* m, float* v, size_t i, const AdamConsts& c) {
  float grad = g[i] * c.gs;
  float wi = w[i];
  if (Decoupled) wi = wi * c.decay;
  else grad = grad + c.wd * wi;
  float mi = c.b1 * m[i] + c.c1 * grad;
  float vi = c.b2 * v[i] + c.c2 * grad * grad;
  m[i] = mi;
  v[i] = vi;
  w[i] = wi - c.step * mi / (std::sqrt(vi) / c.bc2 + c.eps);
}

template <bool Decoupled>
void adam_portable(float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v,
                   size_t begin, size_t end, AdamConsts c) {
  for (size_t i = begin; i < end; i++) adam_one<Decoupled>(w, g, m, v, i, c);
}

#if defined(__x86_64__)
template <bool Decoupled>
__attribute__((target("avx2,fma"))) void adam_avx2(float* w, const float* g, float* m, float* v, size_t begin,
                                                   size_t end, AdamConsts c) {
  const __m256 b1 = _mm256_set1_ps(c.b1), b2 = _mm256_set1_ps(c.b2), c1 = _mm256_set1_ps(c.c1),
               c2 = _mm256_set1_ps(c.c2), step = _mm256_set1_ps(c.step), decay = _mm256_set1_ps(c.decay),
               wd = _mm256_set1_ps(c.wd), gs = _mm256_set1_ps(c.gs), bc2 = _mm256_set1_ps(c.bc2),
               eps = _mm256_set1_ps(c.eps);
  size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 grad = _mm256_mul_ps(_mm256_loadu_ps(g + i), gs);
    __m256 wi = _mm256_loadu_ps(w + i);
    if (Decoupled) wi = _mm256_mul_ps(wi, decay);
    else grad = _mm256_add_ps(grad, _mm256_mul_ps(wd, wi));
    __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, grad));
    __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(c2, grad), grad));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2), eps);
    _mm256_storeu_ps(w + i, _mm256_sub_ps(wi, _mm256_div_ps(_mm256_mul_ps(step, mi), denom)));
  }
  for (; i < end; i++) adam_one<Decoupled>(w, g, m, v, i, c);
}
#endif

}  // namespace

void adam_step(float* w, const float* g, float* m, float* v, size_t n, const AdamParams& p) {
  const AdamConsts c = adam_consts(p);
  const bool avx2 = current_isa() != ISA_PORTABLE;  // the AVX-512 ISA includes AVX2
  parallel_ranges(n, 16384, [&](size_t begin, size_t end) {
#if defined(__x86_64__)
    if (avx2) {
      if (p.decoupled) adam_avx2<true>(w, g, m, v, begin, end, c);
      else adam_avx2<false>(w, g, m, v, begin, end, c);
      return;
    }
#endif
    if (p.decoupled) adam_portable<true>(w, g, m, v, begin, end, c);
    else adam_portable<false>(w, g, m, v, begin, end, c);
  });
}

void sgd_step(float* w, const float* g, float* velocity, size_t n, const SgdParams& p) {
  parallel_ranges(n, 16384, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      float grad = g[i] * p.grad_scale + p.weight_decay * w[i];
      if (p.momentum != 0.0f) {
        float buf = p.first_step ? grad : p.momentum * velocity[i] + grad;
        velocity[i] = buf;
        grad = p.nesterov ? grad + p.momentum * buf : buf;
      }
      w[i] -= p.lr * grad;
    }
  });
}

}  // namespace st
