import { AppError } from "../platform/http/errors.ts";

export const MAX_DISPLAY_NAME_LENGTH = 100;

// Characters that make a name look like something it is not: bidirectional embeddings, overrides,
// isolates and marks (a name that reads backwards), zero-width characters (two names that look
// identical), and control characters.
const INVISIBLE =
  /[\p{Cc}\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/u;

/** The JSON Schema pattern for a display name as sent: none of the characters above. */
export const DISPLAY_NAME_PATTERN =
  "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]*$";

/**
 * A display name as stored: NFKC-normalised (so full-width and other compatibility forms become
 * their plain letters) and trimmed. Refuses names with bidi controls, zero-width or control
 * characters, and names that are empty or too long once normalised.
 */
export function normaliseDisplayName(name: string, path = "body/displayName"): string {
  const refuse = (message: string) =>
    new AppError("validation.failed", `The display name ${message}`, { errors: [{ path, message }] });
  if (INVISIBLE.test(name))
    throw refuse("must not contain bidirectional controls, zero-width or control characters");
  const normalised = name.normalize("NFKC").trim();
  if (INVISIBLE.test(normalised))
    throw refuse("must not contain bidirectional controls, zero-width or control characters");
  if (normalised.length === 0) throw refuse("must not be blank");
  if (normalised.length > MAX_DISPLAY_NAME_LENGTH)
    throw refuse(`must be at most ${MAX_DISPLAY_NAME_LENGTH} characters`);
  return normalised;
}
