// IPv4 address and subnet arithmetic (pure): parse "10.200.0.0/24", test overlap, pick the i-th
// host. Addresses are handled as unsigned 32-bit integers.

export interface Ipv4Subnet {
  /** Network address as an unsigned integer. */
  network: number;
  prefix: number;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** "10.0.0.1" -> integer; throws on anything that is not a dotted IPv4 address. */
export function parseIpv4(text: string): number {
  const m = DOTTED.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not an IPv4 address`);
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255 || (m[i]!.length > 1 && m[i]!.startsWith('0')))
      throw new Error(`"${text}" is not an IPv4 address`);
    v = v * 256 + octet;
  }
  return v;
}

export function formatIpv4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.200.0.0/24" -> subnet; the address must be the network address (no host bits). */
export function parseSubnet(text: string): Ipv4Subnet {
  const [addr, len, ...more] = text.trim().split('/');
  if (addr === undefined || len === undefined || more.length || !/^\d{1,2}$/.test(len))
    throw new Error(`"${text}" is not an IPv4 subnet (use e.g. 10.200.0.0/24)`);
  const prefix = Number(len);
  if (prefix > 32) throw new Error(`"${text}": prefix length must be 0..32`);
  const ip = parseIpv4(addr);
  const network = (ip & maskOf(prefix)) >>> 0;
  if (network !== ip) throw new Error(`"${text}" has host bits set (did you mean ${formatIpv4(network)}/${prefix}?)`);
  return { network, prefix };
}

export function formatSubnet(s: Ipv4Subnet): string {
  return `${formatIpv4(s.network)}/${s.prefix}`;
}

export function subnetSize(s: Ipv4Subnet): number {
  return 2 ** (32 - s.prefix);
}

export function contains(s: Ipv4Subnet, ip: number): boolean {
  return ((ip & maskOf(s.prefix)) >>> 0) === s.network;
}

export function overlaps(a: Ipv4Subnet, b: Ipv4Subnet): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = maskOf(prefix);
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}

/** Usable host addresses (excludes network and broadcast for prefixes below /31). */
export function hostRange(s: Ipv4Subnet): { first: number; last: number } {
  const size = subnetSize(s);
  if (size <= 2) return { first: s.network, last: s.network + size - 1 };
  return { first: s.network + 1, last: s.network + size - 2 };
}
