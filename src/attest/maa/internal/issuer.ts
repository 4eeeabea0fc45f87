/**
 * An issuer URL in the form sealtrain compares: trailing slashes dropped, scheme and host in
 * lower case (they are case-insensitive). Text that is not a URL is only trimmed of trailing slashes.
 */
export function normaliseIssuer(issuer: string): string {
  const trimmed = issuer.trim().replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return trimmed;
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') return trimmed;
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** The URL of an issuer's signing keys: MAA publishes them at `<issuer>/certs`. */
export function certsUrlOf(issuer: string): string {
  return `${normaliseIssuer(issuer)}/certs`;
}
