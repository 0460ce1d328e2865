import type { NamedKind, Snapshot } from '../model.js';
import { accountKind } from './accounts.js';
import type { SnapshotKind } from './kind.js';
import { monitorKind } from './monitors.js';
import { partnerKind } from './partners.js';
import { routeKind } from './routes.js';
import { scheduleKind } from './schedules.js';

/** Every named kind, in the order objects are created: what others refer to comes first. */
export const KINDS: { [K in NamedKind]: SnapshotKind<Snapshot[K][number]> } = {
  accounts: accountKind,
  partners: partnerKind,
  routes: routeKind,
  schedules: scheduleKind,
  monitors: monitorKind,
};
