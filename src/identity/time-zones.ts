import { IANAZone } from "luxon";

/**
 * Whether the name is an IANA time zone this runtime can compute with. Canonical names and their
 * aliases both count (Asia/Kathmandu and Asia/Katmandu), whatever list the ICU data prefers.
 */
export function isTimeZone(name: string): boolean {
  return name.length <= 64 && IANAZone.isValidZone(name);
}
