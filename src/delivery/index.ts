import type { Logger } from "pino";
import type { Clock } from "../platform/clock.ts";
import type { Database } from "../platform/db/database.ts";
import { Dispatcher, DISPATCHER_DEFAULTS, type DispatcherSettings } from "./dispatcher.ts";
import { createLoop, type Loop } from "./loop.ts";
import { WEBHOOK_DEFAULTS, WebhookService, type WebhookSettings } from "./webhooks/webhooks.service.ts";
import {
  NOTIFICATION_DEFAULTS,
  NotificationService,
  type NotificationSettings,
} from "./notifications/notifications.service.ts";
import { STREAM_DEFAULTS, StreamHub, type StreamSettings } from "./stream/hub.ts";

export interface DeliverySettings {
  dispatcher: DispatcherSettings;
  webhooks: WebhookSettings;
  notifications: NotificationSettings;
  stream: StreamSettings;
  /** How often the loops look for work when idle. */
  pollIntervalMs: number;
  /** How long dispatched outbox rows are kept for streams to resume from. */
  streamKeepMs: number;
}

export const DELIVERY_DEFAULTS: DeliverySettings = {
  dispatcher: DISPATCHER_DEFAULTS,
  webhooks: WEBHOOK_DEFAULTS,
  notifications: NOTIFICATION_DEFAULTS,
  stream: STREAM_DEFAULTS,
  pollIntervalMs: 200,
  streamKeepMs: 24 * 3_600_000,
};

export interface DeliveryOverrides {
  dispatcher?: Partial<DispatcherSettings>;
  webhooks?: Partial<WebhookSettings>;
  notifications?: Partial<NotificationSettings>;
  stream?: Partial<StreamSettings>;
  pollIntervalMs?: number;
  streamKeepMs?: number;
}

export function deliverySettings(o: DeliveryOverrides = {}): DeliverySettings {
  return {
    dispatcher: { ...DISPATCHER_DEFAULTS, ...o.dispatcher },
    webhooks: { ...WEBHOOK_DEFAULTS, ...o.webhooks },
    notifications: { ...NOTIFICATION_DEFAULTS, ...o.notifications },
    stream: { ...STREAM_DEFAULTS, ...o.stream },
    pollIntervalMs: o.pollIntervalMs ?? DELIVERY_DEFAULTS.pollIntervalMs,
    streamKeepMs: o.streamKeepMs ?? DELIVERY_DEFAULTS.streamKeepMs,
  };
}

/**
 * Delivery: the outbox dispatcher and the channels it feeds. Nothing runs in the background until
 * `start()` (the server calls it; tests call `runOnce()` with a clock they move).
 */
export function createDelivery(
  db: Database,
  clock: Clock,
  logger: Logger,
  overrides: DeliveryOverrides = {},
) {
  const settings = deliverySettings(overrides);
  const dispatcher = new Dispatcher(db, clock, logger, settings.dispatcher);
  const webhooks = new WebhookService(db, clock, logger, settings.webhooks);
  const notifications = new NotificationService(db, clock, logger, settings.notifications);
  dispatcher.use(webhooks);
  dispatcher.use(notifications);
  // The realtime stream: woken at once by this instance's dispatcher, by NOTIFY from the others
  // (after `stream.listen()`), and by its own heartbeat poll.
  const stream = new StreamHub(db, logger, settings.stream, clock);
  dispatcher.onDispatched((userId, lastId) => stream.poke(userId, lastId));

  let loops: Loop[] = [];
  let lastPurge = 0;
  return {
    dispatcher,
    webhooks,
    notifications,
    stream,
    settings,
    /** One pass of every loop, in order (tests and `ludus` commands). */
    async runOnce() {
      const dispatched = await dispatcher.runOnce();
      const sent = await webhooks.runOnce();
      const notified = await notifications.runOnce();
      return { dispatched, sent, notified };
    },
    start() {
      if (loops.length > 0) return;
      const webhookSender = createLoop("webhooks", settings.pollIntervalMs, () => webhooks.runOnce(), logger);
      const notificationSender = createLoop(
        "notifications",
        settings.pollIntervalMs,
        () => notifications.runOnce(),
        logger,
      );
      const dispatch = createLoop(
        "dispatcher",
        settings.pollIntervalMs,
        async () => {
          const r = await dispatcher.runOnce();
          if (r.dispatched > 0) {
            webhookSender.wake();
            notificationSender.wake();
          }
          if (Date.now() - lastPurge > 60_000) {
            lastPurge = Date.now();
            await dispatcher.purge(settings.streamKeepMs);
          }
          return r;
        },
        logger,
      );
      loops = [dispatch, webhookSender, notificationSender];
      for (const l of loops) l.start();
    },
    /** Stops the loops and waits for their current tick (graceful shutdown). */
    async stop() {
      const running = loops;
      loops = [];
      await Promise.all(running.map((l) => l.stop()));
      await stream.close();
      notifications.close();
    },
  };
}

export type Delivery = ReturnType<typeof createDelivery>;
