import { SnapshotError } from './errors.js';
import { isOmitted, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type PartnerSpec, type Secret, type Snapshot } from './model.js';
import { ElementReader, parseXmlTree, XmlLocator } from './xml-reader.js';
import { XmlWriter, type Attributes } from './xml-writer.js';

/*
 * The XML form of a snapshot (docs/snapshot.md, docs/ferry-snapshot.xsd): each
 * field of the model is an attribute or a child element of the same name in
 * kebab-case; multi-line values and credentials are element text.
 */

const notDefault = (enabled: boolean) => (enabled ? null : 'false');

function writeSecret(w: XmlWriter, tag: string, attributes: Attributes, value: Secret | undefined): void {
  if (value === undefined) return;
  if (isOmitted(value)) w.element(tag, [...attributes, ['omitted', 'true']]);
  else w.text(tag, attributes, value);
}

function writePartner(w: XmlWriter, p: PartnerSpec): void {
  if (p.protocol === 'sftp') {
    w.element(
      'sftp-partner',
      [
        ['name', p.name],
        ['url', p.url],
        ['host-key', p.hostKey],
      ],
      () => {
        writeSecret(w, 'password', [], p.password);
        writeSecret(w, 'private-key', [], p.privateKey);
      },
    );
    return;
  }
  w.element(
    'https-partner',
    [
      ['name', p.name],
      ['url', p.url],
      ['method', p.method],
    ],
    () => {
      writeSecret(w, 'query', [], p.query);
      for (const h of p.headers) writeSecret(w, 'header', [['name', h.name]], h.value);
      if (p.ca !== null) w.text('ca', [], p.ca);
    },
  );
}

export function snapshotToXml(s: Snapshot): string {
  const w = new XmlWriter();
  w.element(SNAPSHOT_FORMAT, [['version', s.version]], () => {
    w.element('accounts', [], () => {
      for (const a of s.accounts) {
        w.element(
          'account',
          [
            ['name', a.name],
            ['home', a.home],
            ['enabled', notDefault(a.enabled)],
          ],
          () => {
            if (a.passwordHash !== null) w.text('password-hash', [], a.passwordHash);
            for (const key of a.keys) w.text('key', [], key);
            for (const network of a.allowFrom) w.text('allow-from', [], network);
          },
        );
      }
    });
    w.element('partners', [], () => s.partners.forEach((p) => writePartner(w, p)));
    w.element('routes', [], () => {
      for (const r of s.routes) {
        const attributes: Attributes = [
          ['name', r.name],
          ['account', r.account],
          ['path', r.path],
          ['on', r.on],
          ['rename', r.rename],
          ['then', r.then],
          ['enabled', notDefault(r.enabled)],
        ];
        w.element('route', attributes, () => {
          for (const step of r.steps) {
            if (step.type === 'push') w.element('push', [['partner', step.partner]]);
            else
              w.element('copy', [
                ['account', step.account],
                ['dir', step.dir],
              ]);
          }
        });
      }
    });
    w.element('schedules', [], () => {
      for (const sc of s.schedules) {
        const attributes: Attributes = [
          ['name', sc.name],
          ['cron', sc.cron],
          ['timezone', sc.timezone],
          ['catch-up', sc.catchUp],
          ['rename', sc.rename],
          ['then', sc.then],
          ['enabled', notDefault(sc.enabled)],
        ];
        w.element('schedule', attributes, () => {
          const a = sc.action;
          w.element(a.type, [
            ['partner', a.partner],
            ['account', a.account],
            ['dir', a.dir],
            ['glob', a.glob],
          ]);
        });
      }
    });
    w.element('monitors', [], () => {
      for (const m of s.monitors) {
        w.element('monitor', [
          ['name', m.name],
          ['account', m.account],
          ['dir', m.dir],
          ['path', m.path],
          ['stable-seconds', m.stableSeconds],
          ['enabled', notDefault(m.enabled)],
        ]);
      }
    });
    w.element('admin-users', [], () => {
      for (const u of s.adminUsers) {
        w.element(
          'admin-user',
          [
            ['name', u.name],
            ['role', u.role],
            ['enabled', notDefault(u.enabled)],
          ],
          () => w.text('password-hash', [], u.passwordHash),
        );
      }
    });
    if (s.sshHostKeys) {
      w.element('ssh-host-keys', [], () => s.sshHostKeys!.forEach((k) => w.text('ssh-host-key', [['algorithm', k.algorithm]], k.privateKey)));
    }
  });
  return w.toString();
}

/** Drops the fields an element did not give, so the model's defaults apply. */
function given<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Reads an element completely: `read` takes what it knows, anything else is refused. */
function whole<T>(read: (e: ElementReader) => T): (e: ElementReader) => T {
  return (e) => {
    const value = read(e);
    e.done();
    return value;
  };
}

const lineText = whole((e) => e.text({ trim: true }));
const secretText = whole((e) => e.secret());

const readAccount = whole((e) => ({
  ...given({ name: e.attribute('name'), home: e.attribute('home'), enabled: e.boolean('enabled') }),
  ...given({ passwordHash: e.one('password-hash', [...e.path, 'passwordHash'], lineText) }),
  keys: e.many('key', [...e.path, 'keys'], lineText),
  allowFrom: e.many('allow-from', [...e.path, 'allowFrom'], lineText),
}));

const readAdminUser = whole((e) => ({
  ...given({ name: e.attribute('name'), role: e.attribute('role'), enabled: e.boolean('enabled') }),
  ...given({ passwordHash: e.one('password-hash', [...e.path, 'passwordHash'], lineText) }),
}));

const readSftpPartner = whole((e) => ({
  protocol: 'sftp',
  ...given({ name: e.attribute('name'), url: e.attribute('url'), hostKey: e.attribute('host-key') }),
  ...given({
    password: e.one('password', [...e.path, 'password'], secretText),
    privateKey: e.one('private-key', [...e.path, 'privateKey'], secretText),
  }),
}));

const readHeader = whole((e) => ({ ...given({ name: e.attribute('name') }), value: e.secret() }));

const readHttpsPartner = whole((e) => ({
  protocol: 'https',
  ...given({ name: e.attribute('name'), url: e.attribute('url'), method: e.attribute('method') }),
  ...given({
    query: e.one('query', [...e.path, 'query'], secretText),
    ca: e.one(
      'ca',
      [...e.path, 'ca'],
      whole((c) => c.text()),
    ),
  }),
  headers: e.many('header', [...e.path, 'headers'], readHeader),
}));

const readRoute = whole((e) => ({
  ...given({
    name: e.attribute('name'),
    account: e.attribute('account'),
    path: e.attribute('path'),
    on: e.attribute('on'),
    rename: e.attribute('rename'),
    then: e.attribute('then'),
    enabled: e.boolean('enabled'),
  }),
  steps: e.each(
    {
      push: whole((s) => ({ type: 'push', ...given({ partner: s.attribute('partner') }) })),
      copy: whole((s) => ({ type: 'copy', ...given({ account: s.attribute('account'), dir: s.attribute('dir') }) })),
    },
    [...e.path, 'steps'],
  ),
}));

function readScheduleAction(type: 'push' | 'pull') {
  return whole((a) => ({
    type,
    ...given({ partner: a.attribute('partner'), account: a.attribute('account'), dir: a.attribute('dir'), glob: a.attribute('glob') }),
  }));
}

const readSchedule = whole((e) => {
  const push = e.one('push', [...e.path, 'action'], readScheduleAction('push'));
  const pull = e.one('pull', [...e.path, 'action'], readScheduleAction('pull'));
  if (Boolean(push) === Boolean(pull)) throw new SnapshotError(`${e.place}: a schedule needs exactly one <push> or <pull>`);
  return {
    ...given({
      name: e.attribute('name'),
      cron: e.attribute('cron'),
      timezone: e.attribute('timezone'),
      catchUp: e.attribute('catch-up'),
      rename: e.attribute('rename'),
      then: e.attribute('then'),
      enabled: e.boolean('enabled'),
    }),
    action: push ?? pull,
  };
});

const readMonitor = whole((e) =>
  given({
    name: e.attribute('name'),
    account: e.attribute('account'),
    dir: e.attribute('dir'),
    path: e.attribute('path'),
    stableSeconds: e.number('stable-seconds'),
    enabled: e.boolean('enabled'),
  }),
);

const readSshHostKey = whole((e) => ({ ...given({ algorithm: e.attribute('algorithm') }), privateKey: e.text() }));

/** The snapshot's fields as the XML gives them, for the model to validate; the locator knows each one's line. */
export function snapshotFromXml(text: string): { raw: unknown; locator: XmlLocator } {
  const locator = new XmlLocator();
  const root = new ElementReader(parseXmlTree(text), [], locator);
  if (root.tag !== SNAPSHOT_FORMAT) throw new SnapshotError(`${root.place}: not a snapshot: the root element must be <${SNAPSHOT_FORMAT}>`);
  const version = root.attribute('version');
  if (version !== String(SNAPSHOT_VERSION)) {
    throw new SnapshotError(
      `${root.place}: ${version === undefined ? 'missing attribute version' : `unsupported snapshot version "${version}"`}: this Ferry reads version ${SNAPSHOT_VERSION}`,
    );
  }
  const section = <T>(tag: string, key: string, item: string, read: (e: ElementReader) => T) =>
    root.one(
      tag,
      [key],
      whole((s) => s.each({ [item]: read }, [key])),
    );
  const raw = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    ...given({
      accounts: section('accounts', 'accounts', 'account', readAccount),
      partners: root.one(
        'partners',
        ['partners'],
        whole((s) => s.each({ 'sftp-partner': readSftpPartner, 'https-partner': readHttpsPartner }, ['partners'])),
      ),
      routes: section('routes', 'routes', 'route', readRoute),
      schedules: section('schedules', 'schedules', 'schedule', readSchedule),
      monitors: section('monitors', 'monitors', 'monitor', readMonitor),
      adminUsers: section('admin-users', 'adminUsers', 'admin-user', readAdminUser),
      sshHostKeys: section('ssh-host-keys', 'sshHostKeys', 'ssh-host-key', readSshHostKey),
    }),
  };
  root.done();
  return { raw, locator };
}
