// Building elements without innerHTML: text from the server is always set as text.
type Attributes = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === "testid") element.dataset.testid = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.filter((child): child is Node | string => Boolean(child)));
  return element;
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(...children.filter((child): child is Node | string => Boolean(child)));
}

/** The element with this data-testid under `root`; a missing one is a programming error. */
export function byTestId<T extends HTMLElement = HTMLElement>(root: ParentNode, testid: string): T {
  const element = root.querySelector<T>(`[data-testid="${testid}"]`);
  if (!element) throw new Error(`no element with data-testid=${testid}`);
  return element;
}
