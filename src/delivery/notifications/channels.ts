import nodemailer from "nodemailer";
import type { ClaimedSend } from "./notifications.store.ts";

/** A way out for notifications besides the in-app list. Throws when the send failed. */
export interface SendChannel {
  send(n: ClaimedSend): Promise<void>;
  close?(): void;
}

export interface EmailSettings {
  /** smtp://user:pass@host:port or smtps://… */
  url: string;
  from: string;
}

/** Email through an SMTP server (nodemailer). */
export function emailChannel(settings: EmailSettings, timeoutMs: number): SendChannel {
  const transport = nodemailer.createTransport(settings.url, {
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  } as Record<string, unknown>);
  return {
    async send(n) {
      if (n.email === null) throw new Error("the player has no email address");
      await transport.sendMail({
        from: settings.from,
        to: n.email,
        subject: n.title,
        text: `${n.message}\n\n— Ludus (change which notifications you get by email in your notification settings)`,
        headers: { "X-Ludus-Notification-Id": n.notification_id, "X-Ludus-Notification-Type": n.type },
      });
    },
    close() {
      transport.close();
    },
  };
}

export interface PushSettings {
  /** An HTTP endpoint (a push gateway of the operator's) that takes one JSON notification per POST. */
  url: string;
  /** Sent as `Authorization: Bearer …` when set. */
  token: string | undefined;
}

/** Push through the operator's HTTP push gateway. */
export function pushChannel(settings: PushSettings, timeoutMs: number): SendChannel {
  return {
    async send(n) {
      const res = await fetch(settings.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(settings.token === undefined ? {} : { authorization: `Bearer ${settings.token}` }),
        },
        body: JSON.stringify({
          notificationId: n.notification_id,
          userId: n.user_id,
          type: n.type,
          title: n.title,
          message: n.message,
          data: n.data,
        }),
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) throw new Error(`push gateway answered HTTP ${res.status}`);
    },
  };
}
