import { Badge } from './components.js';
import { bytes, time } from './format.js';

/** A column of a transfers table: its header, whether numeric, and the cell of a transfer. */
interface Column {
  header: string;
  numeric?: boolean;
  cell: (t: any) => unknown;
}

const ID: Column = { header: 'ID', cell: (t) => <a href={`#/transfers/${t.id}`}>{t.id}</a> };
const STATUS: Column = { header: 'Status', cell: (t) => <Badge value={t.status} /> };
const DIRECTION: Column = { header: 'Direction', cell: (t) => t.direction };
const ACCOUNT: Column = { header: 'Account', cell: (t) => t.account };
const PATH: Column = { header: 'Path', cell: (t) => t.path };
const DESTINATION: Column = { header: 'Destination', cell: (t) => t.destination ?? '' };
const BYTES: Column = { header: 'Bytes', numeric: true, cell: (t) => bytes(t.bytes) };
const CLIENT: Column = { header: 'Client', cell: (t) => t.client ?? '' };
const STARTED: Column = { header: 'Started', cell: (t) => time(t.started) };
const ERROR: Column = { header: 'Error', cell: (t) => t.error ?? '' };

const COLUMNS = {
  compact: [ID, STATUS, DIRECTION, ACCOUNT, PATH, BYTES, STARTED],
  full: [ID, STATUS, DIRECTION, ACCOUNT, PATH, DESTINATION, BYTES, CLIENT, STARTED, ERROR],
};

/** Transfers as rows linking to their pages: the dashboard's compact list or file tracking's full one. */
export function TransferTable({ transfers, layout, testId }: { transfers: any[]; layout: keyof typeof COLUMNS; testId?: string }) {
  const columns = COLUMNS[layout];
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.header} class={c.numeric ? 'num' : undefined}>
              {c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {transfers.map((t) => (
          <tr key={t.id} data-transfer={t.id}>
            {columns.map((c) => (
              <td key={c.header} class={c.numeric ? 'num' : undefined}>
                {c.cell(t) as any}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
