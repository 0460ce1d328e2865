import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { kebabCase, SnapshotError, type Locator, type SnapshotPath } from './errors.js';
import { OMITTED, type Secret } from './model.js';

/** An element of the file with the line its start tag is on. */
interface XmlNode {
  tag: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  text: string;
  line: number;
}

const METADATA = XMLParser.getMetaDataSymbol() as unknown as symbol;

/** Line numbers from character offsets (fast-xml-parser reports each element's start offset). */
function lineFinder(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  };
}

function toNodes(items: any[], lineAt: (offset: number) => number): { nodes: XmlNode[]; text: string } {
  const nodes: XmlNode[] = [];
  let text = '';
  for (const item of items) {
    const key = Object.keys(item).find((k) => k !== ':@')!;
    if (key === '#text') text += String(item[key]);
    else if (!key.startsWith('?') && !key.startsWith('#')) {
      const inner = toNodes(item[key], lineAt);
      nodes.push({ tag: key, attributes: item[':@'] ?? {}, children: inner.nodes, text: inner.text, line: lineAt(item[METADATA]?.startIndex ?? 0) });
    }
  }
  return { nodes, text };
}

/** Parses well-formed XML into elements; a syntax error names its line and column. */
export function parseXmlTree(text: string): XmlNode {
  const doctype = /<!DOCTYPE/i.exec(text);
  if (doctype) throw new SnapshotError(`line ${lineFinder(text)(doctype.index)}: a snapshot may not have a DOCTYPE declaration`);
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new SnapshotError(`line ${valid.err.line}, column ${valid.err.col}: not well-formed XML: ${valid.err.msg}`);
  const parser = new XMLParser({
    preserveOrder: true,
    captureMetaData: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: false,
    // Decodes numeric character references (&#10;) as well as the XML ones.
    htmlEntities: true,
  });
  const { nodes } = toNodes(parser.parse(text), lineFinder(text));
  if (nodes.length !== 1) throw new SnapshotError('not a snapshot: the file has no root element');
  return nodes[0]!;
}

/** Remembers which element each part of the snapshot came from. */
export class XmlLocator implements Locator {
  private readonly places = new Map<string, string>();

  record(path: SnapshotPath, place: string): void {
    this.places.set(JSON.stringify(path), place);
  }

  where(path: SnapshotPath): string {
    for (let n = path.length; n >= 0; n--) {
      const place = this.places.get(JSON.stringify(path.slice(0, n)));
      if (place) return place;
    }
    return 'the snapshot';
  }

  field(name: string): string {
    return kebabCase(name);
  }
}

function label(node: XmlNode): string {
  const id = node.attributes.name !== undefined ? 'name' : node.attributes.algorithm !== undefined ? 'algorithm' : undefined;
  return id ? `<${node.tag} ${id}="${node.attributes[id]}">` : `<${node.tag}>`;
}

/**
 * Reads one element into the snapshot's shape: each attribute and child that is
 * asked for is marked, and `done` refuses whatever is left (an unknown
 * attribute or element), naming its line.
 */
export class ElementReader {
  private readonly usedAttributes = new Set<string>();
  private readonly usedTags = new Set<string>();
  private textRead = false;
  readonly place: string;

  constructor(
    private readonly node: XmlNode,
    readonly path: SnapshotPath,
    private readonly locator: XmlLocator,
    parent?: ElementReader,
  ) {
    this.place = `line ${node.line}, ${label(node)}${parent && !node.attributes.name ? ` in ${parent.label}` : ''}`;
    locator.record(path, this.place);
  }

  get tag(): string {
    return this.node.tag;
  }

  get label(): string {
    return label(this.node);
  }

  private error(message: string, node = this.node): SnapshotError {
    return new SnapshotError(node === this.node ? `${this.place}: ${message}` : `line ${node.line}: ${message}`);
  }

  /** An attribute's value; undefined when it is absent (the model says whether that is allowed). */
  attribute(name: string): string | undefined {
    this.usedAttributes.add(name);
    return this.node.attributes[name];
  }

  boolean(name: string): boolean | undefined {
    const value = this.attribute(name);
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') throw this.error(`attribute ${name} must be true or false (got "${value}")`);
    return value === 'true';
  }

  number(name: string): number | undefined {
    const value = this.attribute(name);
    if (value === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(value.trim())) throw this.error(`attribute ${name} must be a number (got "${value}")`);
    return Number(value);
  }

  /** The element's text; it may not hold elements. */
  text(options: { trim?: boolean } = {}): string {
    const child = this.node.children[0];
    if (child) throw this.error(`<${this.node.tag}> holds text, not <${child.tag}>`, child);
    this.textRead = true;
    return options.trim ? this.node.text.trim() : this.node.text;
  }

  /** A credential: the element's text, or `omitted="true"` where the export left it out. */
  secret(): Secret {
    const omitted = this.attribute('omitted');
    if (omitted === undefined) return this.text();
    if (omitted !== 'true') throw this.error(`attribute omitted must be true (got "${omitted}")`);
    if (this.text().trim()) throw this.error('an omitted value must be empty');
    return OMITTED;
  }

  /** Every child element in order, each read by the handler for its tag. */
  each<T>(handlers: Record<string, (child: ElementReader) => T>, path: SnapshotPath = this.path): T[] {
    const tags = Object.keys(handlers);
    tags.forEach((t) => this.usedTags.add(t));
    return this.node.children.map((child, i) => {
      const handler = handlers[child.tag];
      if (!handler) throw this.error(`unknown element <${child.tag}> in ${this.label}: expected ${tags.map((t) => `<${t}>`).join(' or ')}`, child);
      return handler(new ElementReader(child, [...path, i], this.locator, this));
    });
  }

  /** The children of one tag, in order. */
  many<T>(tag: string, path: SnapshotPath, read: (child: ElementReader) => T): T[] {
    this.usedTags.add(tag);
    return this.node.children.filter((c) => c.tag === tag).map((c, i) => read(new ElementReader(c, [...path, i], this.locator, this)));
  }

  /** The child of a tag that may appear once. */
  one<T>(tag: string, path: SnapshotPath, read: (child: ElementReader) => T): T | undefined {
    this.usedTags.add(tag);
    const found = this.node.children.filter((c) => c.tag === tag);
    if (found.length > 1) throw this.error(`<${tag}> may appear only once in ${this.label}`, found[1]);
    return found[0] && read(new ElementReader(found[0], path, this.locator, this));
  }

  /** Refuses attributes, elements and text that nothing asked for. */
  done(): void {
    const attribute = Object.keys(this.node.attributes).find((a) => !this.usedAttributes.has(a));
    if (attribute !== undefined) throw this.error(`unknown attribute ${attribute}`);
    const child = this.node.children.find((c) => !this.usedTags.has(c.tag));
    if (child) throw this.error(`unknown element <${child.tag}> in ${this.label}`, child);
    if (!this.textRead && this.node.text.trim()) throw this.error(`unexpected text in ${this.label}`);
  }
}
