import { hash, verify } from "@node-rs/argon2";

export interface Argon2Settings {
  /** Memory in KiB; 19 MiB with 2 passes is OWASP's baseline for argon2id. */
  memoryCost: number;
  timeCost: number;
}

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 256;

export class PasswordHasher {
  // Verifying against this when an account does not exist keeps the reply time the same as for a
  // wrong password, so timing does not reveal which logins exist.
  private dummyHash: Promise<string>;
  /** How many passwords were checked against a real account's hash (the login lockout's tests count them). */
  checkedPasswords = 0;

  constructor(private readonly settings: Argon2Settings) {
    this.dummyHash = this.hash("not-a-real-password-but-hashed-the-same-way");
  }

  hash(password: string): Promise<string> {
    // @node-rs/argon2 hashes with argon2id by default (its Algorithm enum is a const enum we cannot
    // import under verbatimModuleSyntax); a unit test checks the "$argon2id$" prefix.
    return hash(password, {
      memoryCost: this.settings.memoryCost,
      timeCost: this.settings.timeCost,
      parallelism: 1,
    });
  }

  async verify(passwordHash: string | null, password: string): Promise<boolean> {
    if (passwordHash === null) {
      await verify(await this.dummyHash, password).catch(() => false);
      return false;
    }
    this.checkedPasswords += 1;
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }
}

/** Why a password is refused, or undefined if it is acceptable. */
export function passwordProblem(
  password: string,
  identity: { username: string; email: string },
): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (lower === identity.username.toLowerCase()) return "must not be the username";
  if (lower === identity.email.toLowerCase() || lower === identity.email.split("@")[0]?.toLowerCase()) {
    return "must not be the email address";
  }
  if (new Set(password).size < 4) return "must use at least 4 different characters";
  return undefined;
}
