import type { SessionRow } from "./sessions.store.ts";
import type { Role, UserRow } from "./users.store.ts";

export interface UserView {
  id: string;
  email: string;
  username: string;
  displayName: string;
  role: Role;
  isActive: boolean;
  emailVerified: boolean;
  lastLoginAt: string | null;
  createdAt: string;
  deletedAt: string | null;
  profile: {
    avatarUrl: string | null;
    bio: string | null;
    timeZone: string;
    dayStartHour: number;
    locale: string;
  };
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function userView(u: UserRow): UserView {
  return {
    id: u.id,
    email: u.email,
    username: u.username,
    displayName: u.display_name,
    role: u.role,
    isActive: u.is_active,
    emailVerified: u.email_verified,
    lastLoginAt: iso(u.last_login_at),
    createdAt: u.created_at.toISOString(),
    deletedAt: iso(u.deleted_at),
    profile: {
      avatarUrl: u.avatar_url,
      bio: u.bio,
      timeZone: u.time_zone,
      dayStartHour: u.day_start_hour,
      locale: u.locale,
    },
  };
}

/** What anyone may see of a player. */
export function publicUserView(u: UserRow) {
  return { id: u.id, username: u.username, displayName: u.display_name, avatarUrl: u.avatar_url };
}

export function sessionView(s: SessionRow, currentSessionId: string | null) {
  return {
    id: s.id,
    ip: s.ip,
    userAgent: s.user_agent,
    createdAt: s.created_at.toISOString(),
    lastActivityAt: s.last_activity_at.toISOString(),
    expiresAt: s.expires_at.toISOString(),
    current: s.id === currentSessionId,
  };
}
