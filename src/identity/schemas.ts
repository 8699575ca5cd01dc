import { Type } from "typebox";
import { NullableTimestamp, Timestamp, Uuid } from "../platform/http/schemas.ts";
import { MAX_PASSWORD_LENGTH } from "./passwords.ts";
import { API_KEY_SCOPES } from "./api-keys.ts";
import { DISPLAY_NAME_PATTERN, MAX_DISPLAY_NAME_LENGTH } from "./display-names.ts";

export const Email = Type.String({ format: "email", minLength: 3, maxLength: 254 });
export const Username = Type.String({ minLength: 3, maxLength: 32, pattern: "^[A-Za-z0-9_.-]+$" });
// Rules beyond length (not the username, enough variety) are checked by the service with a reason.
export const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH });
export const DisplayName = Type.String({
  minLength: 1,
  maxLength: MAX_DISPLAY_NAME_LENGTH,
  pattern: DISPLAY_NAME_PATTERN,
  description:
    "Stored NFKC-normalised and trimmed; bidirectional controls, zero-width and control characters are refused",
});
export const TimeZone = Type.String({
  minLength: 1,
  maxLength: 64,
  description: "IANA time zone, e.g. Europe/Berlin",
});
export const Locale = Type.String({ pattern: "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", maxLength: 35 });
export const RoleSchema = Type.Enum(["player", "moderator", "admin"]);

export const Profile = Type.Object({
  avatarUrl: Type.Union([Type.String(), Type.Null()]),
  bio: Type.Union([Type.String(), Type.Null()]),
  timeZone: Type.String(),
  dayStartHour: Type.Integer({ description: "Hour (0–23) at which the player's day begins" }),
  locale: Type.String(),
});

export const User = Type.Object(
  {
    id: Uuid,
    email: Type.String(),
    username: Type.String(),
    displayName: Type.String(),
    role: RoleSchema,
    isActive: Type.Boolean(),
    emailVerified: Type.Boolean(),
    lastLoginAt: NullableTimestamp,
    createdAt: Timestamp,
    deletedAt: NullableTimestamp,
    profile: Profile,
  },
  { description: "A user account as its owner and admins see it" },
);

export const PublicUser = Type.Object({
  id: Uuid,
  username: Type.String(),
  displayName: Type.String(),
  avatarUrl: Type.Union([Type.String(), Type.Null()]),
});

export const TokenPair = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  tokenType: Type.Literal("Bearer"),
  expiresIn: Type.Integer({ description: "Seconds until the access token expires" }),
  sessionId: Uuid,
});

export const AuthResult = Type.Object({ user: User, tokens: TokenPair });

export const RegisterBody = Type.Object(
  {
    email: Email,
    username: Username,
    password: Password,
    displayName: Type.Optional(DisplayName),
    timeZone: Type.Optional(TimeZone),
    locale: Type.Optional(Locale),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    login: Type.String({ minLength: 1, maxLength: 254, description: "Email or username" }),
    password: Password,
  },
  { additionalProperties: false },
);

export const RefreshBody = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

export const UpdateMeBody = Type.Object(
  {
    displayName: Type.Optional(DisplayName),
    username: Type.Optional(Username),
    avatarUrl: Type.Optional(Type.Union([Type.String({ format: "uri", maxLength: 2048 }), Type.Null()])),
    bio: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    timeZone: Type.Optional(TimeZone),
    dayStartHour: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 23,
        description: "Hour at which the player's day begins, for daily statistics, quests and streaks",
      }),
    ),
    locale: Type.Optional(Locale),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ChangePasswordBody = Type.Object(
  { currentPassword: Password, newPassword: Password },
  { additionalProperties: false },
);

export const DeleteMeBody = Type.Object({ password: Password }, { additionalProperties: false });

export const Session = Type.Object({
  id: Uuid,
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  lastActivityAt: Timestamp,
  expiresAt: Timestamp,
  current: Type.Boolean(),
});

export const UserListQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    role: Type.Optional(RoleSchema),
    active: Type.Optional(Type.Boolean()),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 200, pattern: "^[A-Za-z0-9_-]+$" })),
  },
  { additionalProperties: false },
);

export const SetRoleBody = Type.Object({ role: RoleSchema }, { additionalProperties: false });

export const ApiKey = Type.Object({
  id: Uuid,
  name: Type.String(),
  prefix: Type.String(),
  scopes: Type.Array(Type.String()),
  createdBy: Type.Union([Uuid, Type.Null()]),
  createdAt: Timestamp,
  expiresAt: NullableTimestamp,
  lastUsedAt: NullableTimestamp,
  revokedAt: NullableTimestamp,
});

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Array(Type.Enum([...API_KEY_SCOPES]), { minItems: 1, maxItems: API_KEY_SCOPES.length }),
    expiresAt: Type.Optional(Type.String({ format: "date-time" })),
  },
  { additionalProperties: false },
);
