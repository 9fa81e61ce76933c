/** mulberry32: a small seeded PRNG so a simulator run can be replayed exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `prefix` then upper-case hex digits from `random`, 22 characters in all (a WhatsApp key id's shape). */
export function randomKeyId(random: () => number, prefix: string): string {
  let id = prefix;
  while (id.length < 22) id += Math.floor(random() * 16).toString(16).toUpperCase();
  return id;
}

/** XORs the hex digits after the 4-character prefix with the salt's: a bijection, so distinct ids stay distinct. */
export function saltKeyId(id: string, salt: string): string {
  let out = id.slice(0, 4);
  for (let i = 4; i < id.length; i++) {
    const d = Number.parseInt(id[i] as string, 16) ^ Number.parseInt(salt[(i - 4) % salt.length] as string, 16);
    out += d.toString(16).toUpperCase();
  }
  return out;
}

/** A cuid (Evolution's row ids, `messageId` of a receipt): `c`, then 24 base-36 characters (`cm…` today). */
export function randomCuid(random: () => number): string {
  let id = 'cm';
  while (id.length < 25) id += Math.floor(random() * 36).toString(36);
  return id;
}
