// Compute kernels of the training engine. Every matrix is row-major and contiguous. The
// TypeScript reference (src/train/internal/reference-kernels.ts) defines what each computes.
#pragma once
#include <cstddef>
#include <cstdint>

namespace st {

enum Act : int { ACT_LINEAR = 0, ACT_RELU = 1, ACT_GELU = 2, ACT_TANH = 3, ACT_SIGMOID = 4 };
enum Isa : int { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

bool cpu_has_avx2();
bool cpu_has_avx512();
void set_isa(Isa isa);
Isa current_isa();
void set_threads(int n);
int current_threads();
// The GEMM's packing scratch on the calling thread holds copies of matrix rows (batches of data):
// wipe_scratch overwrites all of it (its whole capacity) with zeros; scratch_nonzero counts the
// values that are not zero, so tests and audits can see it.
void wipe_scratch();
size_t scratch_nonzero();

// After the product: z = c + bias (kept when z is non-null), c = act(z).
struct Epilogue {
  const float* bias = nullptr;
  Act act = ACT_LINEAR;
  float* z = nullptr;
};

// C[M×N] = op(A)·op(B) (+ C when accumulate), op(A) M×K, op(B) K×N; then the epilogue, if any.
void gemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, const float* b, float* c,
          bool accumulate, const Epilogue* epilogue);

float activate(Act act, float z);
// dy[i] *= act'(·) at element i, from the layer's output y (and pre-activation z for GELU).
void activation_backward(Act act, const float* y, const float* z, float* dy, size_t n);
// Column sums of dz (rows×cols) into db.
void column_sums(const float* dz, int rows, int cols, float* db);

// Inverted dropout in place: keeps element i when hash(seed, stream, i) >= threshold, scaling by `scale`.
void dropout(float* v, size_t n, uint32_t seed, uint32_t stream, uint32_t threshold, float scale);
uint32_t dropout_hash(uint32_t seed, uint32_t stream, uint32_t index);

// Losses: write grad = dLoss/dInput·scale and return the summed (unscaled) loss in double.
double softmax_cross_entropy(const float* logits, const int32_t* labels, int rows, int classes, float* grad,
                             float scale);
double sigmoid_cross_entropy(const float* logits, const float* targets, size_t n, float* grad, float scale);
double squared_error(const float* pred, const float* targets, size_t n, float* grad, float scale);

double sum_squares(const float* v, size_t n);
void row_sum_squares(const float* m, int rows, int cols, double* out);

// In double: the step forms 1 − β, lr / (1 − β1^t) and 1 − lr·wd in double and rounds each once.
struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay, grad_scale;
  double bias_correction1, bias_correction2_sqrt;
  bool decoupled;
};
void adam_step(float* w, const float* g, float* m, float* v, size_t n, const AdamParams& p);

struct SgdParams {
  float lr, momentum, weight_decay, grad_scale;
  bool nesterov, first_step;
};
void sgd_step(float* w, const float* g, float* velocity, size_t n, const SgdParams& p);

// While alive, the calling thread flushes denormal floats to zero (x86 FTZ and DAZ), as the pool's
// workers always do; the caller's previous mode comes back on destruction (JavaScript needs it).
// Training drives gradients and Adam's moments towards zero, and denormal arithmetic is up to a
// hundred times slower on x86.
class FlushDenormals {
 public:
  FlushDenormals();
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_;
};

// Sets FTZ and DAZ for the rest of the calling thread's life (pool workers).
void flush_denormals_forever();

}  // namespace st
