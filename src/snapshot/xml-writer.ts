import { SnapshotError } from './errors.js';

/** Attribute values; null or undefined leaves the attribute out. */
export type Attributes = Array<[string, string | number | null | undefined]>;

// Characters XML 1.0 cannot carry at all, escaped or not.
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

function checked(value: string): string {
  if (NOT_XML.test(value)) throw new SnapshotError(`cannot write ${JSON.stringify(value)} as XML: it holds a control character`);
  return value;
}

function escapeText(value: string): string {
  // \r would be read back as \n: written as a character reference it survives.
  return checked(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

function escapeAttribute(value: string): string {
  // A parser turns a literal tab or line break in an attribute into a space.
  return escapeText(value).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;');
}

/** Writes indented XML, element by element, in exactly the order it is called: the same input gives the same bytes. */
export class XmlWriter {
  private readonly lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  private depth = 0;

  private start(tag: string, attributes: Attributes): string {
    const attrs = attributes
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => ` ${k}="${escapeAttribute(String(v))}"`)
      .join('');
    return `${'  '.repeat(this.depth)}<${tag}${attrs}`;
  }

  /** An element with child elements, or `<tag/>` when `children` writes none. */
  element(tag: string, attributes: Attributes, children: () => void = () => {}): void {
    const at = this.lines.push(this.start(tag, attributes) + '>');
    this.depth++;
    children();
    this.depth--;
    if (this.lines.length === at) this.lines[at - 1] = this.lines[at - 1]!.replace(/>$/, '/>');
    else this.lines.push(`${'  '.repeat(this.depth)}</${tag}>`);
  }

  /** An element holding text, written as it is (multi-line text such as a PEM key included). */
  text(tag: string, attributes: Attributes, text: string): void {
    this.lines.push(`${this.start(tag, attributes)}>${escapeText(text)}</${tag}>`);
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}
