/** A value the scanner could not work out statically, with the reason (for the finding's message). */
export class Unknown {
  constructor(readonly reason: string) {}
}

/** A reference to another resource's attribute that only exists after apply (`azurerm_key_vault.kv.id`). */
export class Ref {
  constructor(
    /** The resource's full address, with its module path (`module.net.azurerm_subnet.a`). */
    readonly address: string,
    /** The attribute referred to (`id`, `name`, …). */
    readonly attr: string,
  ) {}
}

/** An evaluated Terraform value. */
export type Value = string | number | boolean | null | Unknown | Ref | Value[] | { [key: string]: Value };

/** A plain object value (a map or an object in Terraform terms). */
export type ObjectValue = { [key: string]: Value };

/** True for an {@link Unknown}. */
export const isUnknown = (v: unknown): v is Unknown => v instanceof Unknown;

/** True for a {@link Ref}. */
export const isRef = (v: unknown): v is Ref => v instanceof Ref;

/** True for a map or object (not a list, unknown or reference). */
export function isObjectValue(v: unknown): v is ObjectValue {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Unknown) && !(v instanceof Ref)
  );
}

/** A short text form for messages. */
export function show(v: Value | undefined): string {
  if (v === undefined) return '(not set)';
  if (v instanceof Unknown) return `(unknown: ${v.reason})`;
  if (v instanceof Ref) return `${v.address}.${v.attr}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (isObjectValue(v)) return '{…}';
  return String(v);
}

/** Terraform's conversion to bool: `true`/`false` and the strings `"true"`/`"false"`. */
export function asBool(v: Value | undefined): boolean | Unknown | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  if (v instanceof Unknown) return v;
  return new Unknown(`${show(v)} is not a bool`);
}

/** Terraform's conversion to string for scalars; unknown for the rest. */
export function asString(v: Value | undefined): string | Unknown | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Unknown) return v;
  return new Unknown(`${show(v)} is not a string`);
}

/** Terraform's conversion to number. */
export function asNumber(v: Value | undefined): number | Unknown | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  if (v instanceof Unknown) return v;
  return new Unknown(`${show(v)} is not a number`);
}

/** A list (or set, or tuple); a single scalar is not a list. */
export function asList(v: Value | undefined): Value[] | Unknown | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v;
  if (v instanceof Unknown) return v;
  return new Unknown(`${show(v)} is not a list`);
}
