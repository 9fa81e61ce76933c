/**
 * The API key in an Authorization header (HTTP, or graphql-ws connectionParams): `Bearer <key>`, or
 * the bare key. Null when there is none.
 */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = header.match(/^\s*Bearer\s+(\S+)\s*$/i);
  return m ? (m[1] as string) : header.trim() || null;
}
