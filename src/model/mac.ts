/** Ethernet (MAC) addresses: parsing, a canonical form, and the unicast test the kernel applies. Pure. */
import type { Parsed } from './ip.js';

const MAC = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/;

/** Parses `aa:bb:cc:dd:ee:ff` (or with '-'); returns the lower-case colon form. */
export function parseMac(text: string): Parsed<string> {
  if (!MAC.test(text)) {
    return {
      ok: false,
      reason: 'not a MAC address (six hex octets separated by ":", e.g. d2:74:8c:12:67:d2)',
    };
  }
  return { ok: true, value: text.toLowerCase().replaceAll('-', ':') };
}

/** The I/G bit: the lowest bit of the first octet. */
export function isMulticastMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

export function isZeroMac(mac: string): boolean {
  return /^(00:){5}00$/.test(mac);
}

/**
 * Why the kernel would refuse this address for a network device (eth_validate_addr: neither
 * multicast nor all zeros), or undefined when it is fine.
 */
export function deviceMacProblem(mac: string): string | undefined {
  if (isZeroMac(mac)) return 'the all-zero MAC address cannot be assigned to an interface';
  if (isMulticastMac(mac)) {
    return `${mac} is a multicast (group) address (lowest bit of the first octet set); an interface needs a unicast MAC`;
  }
  return undefined;
}
