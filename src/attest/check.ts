/**
 * The result of one verification or validation check. Verifiers run every check they can and
 * return all results, so a user sees every reason evidence was refused, not only the first.
 */
export interface Check {
  /** A stable dotted id, e.g. `snp.signature`, `snp.tcb.microcode`, `policy.debug`, `maa.exp`. */
  readonly id: string;
  /** Whether the check passed. */
  readonly ok: boolean;
  /** One sentence that names the field or claim and, on failure, the value found and the value wanted. */
  readonly message: string;
}

/** Collects {@link Check}s in order. */
export class CheckList {
  readonly #checks: Check[] = [];

  /** Records a check; returns `ok` so callers can branch on it. */
  add(id: string, ok: boolean, message: string): boolean {
    this.#checks.push({ id, ok, message });
    return ok;
  }

  /** Records a passed check. */
  pass(id: string, message: string): true {
    this.#checks.push({ id, ok: true, message });
    return true;
  }

  /** Records a failed check. */
  fail(id: string, message: string): false {
    this.#checks.push({ id, ok: false, message });
    return false;
  }

  /** Appends checks made elsewhere. */
  addAll(checks: readonly Check[]): void {
    this.#checks.push(...checks);
  }

  /** True when no check failed. */
  get ok(): boolean {
    return this.#checks.every((c) => c.ok);
  }

  /** Every check, in the order made. */
  get all(): readonly Check[] {
    return [...this.#checks];
  }

  /** The failed checks. */
  get failures(): readonly Check[] {
    return this.#checks.filter((c) => !c.ok);
  }
}
