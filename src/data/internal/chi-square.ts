import { SealtrainError } from '../../errors/index.js';

const EPSILON = 1e-15;
const TINY = 1e-300;
const MAX_TERMS = 100_000;
/** Coefficients of the g = 7, 9-term rational approximation of Γ (about 15 significant digits). */
const LOG_GAMMA_G = 7;
const LOG_GAMMA_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LOG_GAMMA_COEFFICIENTS[0] as number;
  for (let i = 1; i < LOG_GAMMA_COEFFICIENTS.length; i++)
    sum += (LOG_GAMMA_COEFFICIENTS[i] as number) / (z + i);
  const t = z + LOG_GAMMA_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** e^−x x^a / Γ(a), the factor both expansions share. */
function prefactor(a: number, x: number): number {
  return Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** P(a, x) by its power series; converges fast for x < a + 1. */
function lowerSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_TERMS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPSILON) break;
  }
  return sum * prefactor(a, x);
}

/** Q(a, x) by its continued fraction (evaluated with the modified forward recurrence); for x ≥ a + 1. */
function upperFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_TERMS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return h * prefactor(a, x);
}

/** The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for a > 0, x ≥ 0. */
function regularizedGammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return x < a + 1 ? 1 - lowerSeries(a, x) : upperFraction(a, x);
}

/**
 * The chi-square distribution's survival function: the probability that a chi-square variable
 * with `degreesOfFreedom` exceeds `statistic`, i.e. the p-value of a chi-square test. It is the
 * regularized upper incomplete gamma function Q(k/2, x/2) (a power series below x/2 = k/2 + 1, a
 * continued fraction above), to about 12 significant digits for up to 2000 degrees of freedom,
 * tiny tail probabilities included. `chiSquareSurvival(3.841458820694124, 1)` is 0.05.
 *
 * @param statistic - the statistic; 0 or less gives 1, `Infinity` gives 0, NaN gives NaN.
 * @param degreesOfFreedom - finite and > 0 (need not be an integer).
 * @throws SealtrainError `ERR_USAGE_INVALID` when `degreesOfFreedom` is not finite and > 0.
 */
export function chiSquareSurvival(statistic: number, degreesOfFreedom: number): number {
  if (!(Number.isFinite(degreesOfFreedom) && degreesOfFreedom > 0)) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `Degrees of freedom must be a finite number > 0, not ${degreesOfFreedom}.`,
    );
  }
  if (Number.isNaN(statistic)) return Number.NaN;
  const q = regularizedGammaQ(degreesOfFreedom / 2, statistic / 2);
  return Math.min(1, Math.max(0, q));
}
