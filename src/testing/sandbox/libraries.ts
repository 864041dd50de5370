/**
 * Users' libraries: the files delivered into them and, for generation A, the
 * postbox (an id and an RSA key pair) writes are addressed to.
 * @module
 */
import { generateRsaKeyPair, type RsaKeyPair } from "./keys.js";
import { randomId } from "./random.js";
import type { DeliveredFile, SandboxLibrary } from "./types.js";

/**
 * A library's postbox: generation A writes name it by id and encrypt to its public key.
 *
 * @example
 * ```ts
 * const postbox: Postbox = await libraries.postboxOf(libraryId);
 * ```
 */
export interface Postbox extends RsaKeyPair {
  id: string;
}

interface LibraryRecord {
  id: string;
  files: DeliveredFile[];
  postbox?: Promise<Postbox>;
  /** The postbox once its keys exist (for snapshots, which are synchronous). */
  settledPostbox?: Postbox;
}

/**
 * The libraries and everything stored in them.
 *
 * @example
 * ```ts
 * const libraries = new LibraryRegistry();
 * const id = libraries.create();
 * libraries.store(file);
 * libraries.view(id); // { id, files: [file] }
 * ```
 */
export class LibraryRegistry {
  readonly #libraries = new Map<string, LibraryRecord>();
  readonly #byPostbox = new Map<string, string>();

  /** Create a library with a fresh id, or with the given id when it does not exist yet. */
  create(id: string = randomId("library")): string {
    if (!this.#libraries.has(id)) this.#libraries.set(id, { id, files: [] });
    return id;
  }

  /** Forget every library, its postbox and its files (the dev server's reset). */
  clear(): void {
    this.#libraries.clear();
    this.#byPostbox.clear();
  }

  /** Whether the library exists. */
  has(id: string): boolean {
    return this.#libraries.has(id);
  }

  /**
   * The library's postbox, made on first use. The promise is kept so two
   * concurrent consents for one library share one key pair.
   */
  postboxOf(libraryId: string): Promise<Postbox> {
    const library = this.#require(libraryId);
    library.postbox ??= generateRsaKeyPair().then((keys) => {
      const postbox = { id: randomId("postbox"), ...keys };
      this.#byPostbox.set(postbox.id, libraryId);
      library.settledPostbox = postbox;
      return postbox;
    });
    return library.postbox;
  }

  /** The library's postbox if one was made and its keys exist; never makes one. */
  settledPostboxOf(libraryId: string): Postbox | undefined {
    return this.#libraries.get(libraryId)?.settledPostbox;
  }

  /** Give a library a postbox with known keys (restoring a snapshot). */
  restorePostbox(libraryId: string, postbox: Postbox): void {
    const library = this.#require(libraryId);
    const copy: Postbox = { id: postbox.id, publicKey: postbox.publicKey, privateKey: postbox.privateKey };
    library.settledPostbox = copy;
    library.postbox = Promise.resolve(copy);
    this.#byPostbox.set(copy.id, libraryId);
  }

  /** The library a postbox id belongs to. */
  libraryOfPostbox(postboxId: string): string | undefined {
    return this.#byPostbox.get(postboxId);
  }

  /** Record a delivered file in its library. */
  store(file: DeliveredFile): void {
    this.#require(file.libraryId).files.push(file);
  }

  /** A snapshot of one library (a copy of its file list). */
  view(id: string): SandboxLibrary | undefined {
    const library = this.#libraries.get(id);
    return library === undefined ? undefined : { id: library.id, files: [...library.files] };
  }

  /** Snapshots of all libraries, in creation order. */
  views(): SandboxLibrary[] {
    return [...this.#libraries.values()].map((library) => ({ id: library.id, files: [...library.files] }));
  }

  /** Number of libraries. */
  get size(): number {
    return this.#libraries.size;
  }

  /** Number of files across all libraries. */
  get fileCount(): number {
    let count = 0;
    for (const library of this.#libraries.values()) count += library.files.length;
    return count;
  }

  #require(id: string): LibraryRecord {
    const library = this.#libraries.get(id);
    if (library === undefined) throw new Error(`Sandbox has no library "${id}"`);
    return library;
  }
}
