/** The database id inside a Relay global id ("Type:uuid" in base64). */
export function uuidOf(globalId: string): string {
  const [, id] = Buffer.from(globalId, 'base64').toString('utf8').split(':');
  if (!id) throw new Error(`not a global id: ${globalId}`);
  return id;
}

export function globalId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`, 'utf8').toString('base64');
}
