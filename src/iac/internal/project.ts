import { mapAzapi } from './azapi.js';
import { HclBlock } from './block.js';
import { Instance } from './instance.js';
import { addFile, azurermMajor, dirOf, emptyModule, localSource, type ModuleDef } from './module-def.js';
import { type ParsedFile, type ParseProblem, parseSource, type SourceFile } from './parse.js';
import { makeResource, type Resource } from './resource.js';
import { asNumber } from './values.js';
import { moduleVariables, rootVariables } from './variables.js';

/** Everything the rules look at: resources of every root and followed module, and what went wrong. */
export interface Project {
  readonly resources: Resource[];
  /** Every resource in the configuration, azapi and data blocks included (for relations). */
  readonly problems: ParseProblem[];
  /** Things the scan could not follow (remote modules), for the report. */
  readonly notes: string[];
  /** The parsed text of every file, for positions and suppressions. */
  readonly texts: Map<string, string>;
}

/** Options of {@link loadProject}. */
export interface LoadOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `--var-file` files, in order. */
  readonly varFiles?: readonly SourceFile[];
}

const MAX_DEPTH = 16;

const isTfvars = (p: string): boolean => /\.tfvars(\.json)?$/.test(p);

function tfvarsOrder(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base === 'terraform.tfvars') return '0';
  if (base === 'terraform.tfvars.json') return '1';
  return `2${base}`;
}

async function parseAll(
  files: readonly SourceFile[],
  problems: ParseProblem[],
): Promise<Map<string, ModuleDef>> {
  const defs = new Map<string, ModuleDef>();
  for (const file of files) {
    const result = await parseSource(file);
    if ('problem' in result) {
      problems.push(result.problem);
      continue;
    }
    const dir = dirOf(file.path);
    const def = defs.get(dir) ?? emptyModule(dir);
    defs.set(dir, def);
    if (isTfvars(file.path)) {
      if (/(^|\/)terraform\.tfvars(\.json)?$|\.auto\.tfvars(\.json)?$/.test(file.path))
        def.tfvars.push({ file: file.path, values: result.parsed });
    } else addFile(def, file.path, result.parsed);
  }
  for (const def of defs.values())
    def.tfvars.sort((a, b) => tfvarsOrder(a.file).localeCompare(tfvarsOrder(b.file)));
  return defs;
}

class Builder {
  readonly resources: Resource[] = [];
  readonly notes: string[] = [];
  constructor(
    readonly defs: Map<string, ModuleDef>,
    readonly major: number,
  ) {}

  instantiate(inst: Instance, stack: readonly string[]): void {
    this.#addResources(inst);
    for (const call of inst.def.calls) {
      const dir = localSource(inst.def.dir, call.body.source);
      const def = dir === undefined ? undefined : this.defs.get(dir);
      const where = `${inst.prefix}module.${call.name}`;
      if (!def || def.files.length === 0) {
        this.notes.push(
          `${where}: source ${JSON.stringify(call.body.source)} is not a local module here; not followed.`,
        );
        continue;
      }
      if (stack.includes(def.dir) || stack.length > MAX_DEPTH) {
        this.notes.push(`${where}: a module cycle through ${def.dir}; not followed.`);
        continue;
      }
      const child = new Instance(def, `${where}.`, moduleVariables(def, call.body, inst));
      inst.children.set(call.name, child);
      this.instantiate(child, [...stack, def.dir]);
    }
  }

  #addResources(inst: Instance): void {
    for (const raw of inst.def.resources) {
      if (raw.mode !== 'resource') continue;
      const block = new HclBlock(raw.body, (v) => inst.evaluate(v));
      if (asNumber(block.get('count')) === 0) continue;
      const meta = {
        name: raw.name,
        address: `${inst.prefix}${raw.type}.${raw.name}`,
        file: raw.file,
        azurermMajor: this.major,
      };
      this.resources.push(makeResource(block, { ...meta, type: raw.type, via: 'azurerm' }));
      if (raw.type === 'azapi_resource') {
        const mapped = mapAzapi(block);
        if (mapped)
          this.resources.push(makeResource(mapped.block, { ...meta, type: mapped.type, via: 'azapi' }));
      }
    }
  }
}

/**
 * Parses the files, groups them into folders, follows local `module` calls from every root
 * folder (one no other folder calls) and resolves variables the way Terraform does.
 */
export async function loadProject(files: readonly SourceFile[], options: LoadOptions = {}): Promise<Project> {
  const problems: ParseProblem[] = [];
  const defs = await parseAll(files, problems);
  const explicit: { file: string; values: ParsedFile }[] = [];
  for (const f of options.varFiles ?? []) {
    const r = await parseSource(f);
    if ('problem' in r) problems.push(r.problem);
    else explicit.push({ file: f.path, values: r.parsed });
  }
  const called = new Set<string>();
  for (const def of defs.values())
    for (const call of def.calls) {
      const dir = localSource(def.dir, call.body.source);
      if (dir !== undefined) called.add(dir);
    }
  const roots = [...defs.values()].filter((d) => d.files.length > 0 && !called.has(d.dir));
  const builder = new Builder(
    defs,
    azurermMajor(
      roots.find((d) => d.azurermVersion)?.azurermVersion ??
        [...defs.values()].find((d) => d.azurermVersion)?.azurermVersion,
    ),
  );
  for (const def of roots) {
    const vars = rootVariables(def, { env: options.env ?? {}, tfvars: [...def.tfvars, ...explicit] });
    builder.instantiate(new Instance(def, '', vars), [def.dir]);
  }
  const texts = new Map(files.map((f) => [f.path, f.text]));
  return { resources: builder.resources, problems, notes: builder.notes, texts };
}
