import { AccountError } from '../accounts/account-store.js';
import { ClusterAdminError } from '../cluster/cluster-admin.js';
import { PartnerError } from '../routing/partners.js';
import { ResubmitError } from '../routing/resubmit.js';
import { AdminUserError } from '../accounts/admin-users.js';

const REFUSALS = [AccountError, AdminUserError, ClusterAdminError, PartnerError, ResubmitError];

/**
 * The HTTP status for a refusal from a feature module (its message is meant for
 * the user): 404 when the named thing does not exist, 409 when it already does,
 * 400 otherwise. Undefined for anything else (a real failure).
 */
export function domainErrorStatus(error: Error): number | undefined {
  if (!REFUSALS.some((kind) => error instanceof kind)) return undefined;
  if (/^no (\w+ )+(named|with) |has no /.test(error.message)) return 404;
  if (/already (exists|has)/.test(error.message)) return 409;
  return 400;
}
