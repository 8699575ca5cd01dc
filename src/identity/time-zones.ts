// The IANA zones this runtime knows, plus "UTC", which Intl lists separately on some versions.
const ZONES = new Set([...Intl.supportedValuesOf("timeZone"), "UTC", "Etc/UTC"]);

export function isTimeZone(name: string): boolean {
  return ZONES.has(name);
}
