// A k6 script and its local files made runnable in a VU, refusing what the engine does not provide.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type * as TypeScript from 'typescript'
import { K6_RUNTIME_DIR } from '../package-paths.js'
import { K6ScriptError } from './errors.js'
import { MODULE_FILES, moduleName, SUPPORTED_API } from './supported.js'

/** A script made runnable by Node: its files transpiled to ES modules under `dir`. */
export interface LoadedScript {
  /** The entry's file URL, for `import()` in a VU. */
  readonly url: string
  readonly dir: string
  /** Removes the transpiled files. */
  dispose(): Promise<void>
}

// TypeScript is CommonJS: required, it loads in a third of the CPU an ES import of its 9 MB costs (no export scan).
const ts = createRequire(import.meta.url)('typescript') as typeof TypeScript
const MODULES_DIR = path.join(K6_RUNTIME_DIR, 'modules')
const COMPILER_OPTIONS: TypeScript.CompilerOptions = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  sourceMap: false,
  // k6 scripts are checked against @types/k6 by `tsc -p load/k6`; here they are only stripped.
  isolatedModules: true,
}

/**
 * Transpiles a k6 script and the local files it imports (TypeScript or JavaScript) into ES modules
 * a VU worker can import: `k6`, `k6/http`, `k6/metrics` and `k6/execution` point at the built-in
 * runtime. Any other module (another `k6/*`, a URL, a package) and any export of the k6 modules
 * outside the supported subset fail here, naming it and the file that uses it.
 *
 * ```ts
 * const script = await loadScript('load/k6/steady.ts')
 * try { ... } finally { await script.dispose() }
 * ```
 */
export async function loadScript(entry: string): Promise<LoadedScript> {
  const entryPath = path.resolve(entry)
  if (!existsSync(entryPath)) throw new K6ScriptError(`no script at ${entryPath}`)
  const dir = await mkdtemp(path.join(tmpdir(), 'k6-script-'))
  try {
    const queue = [entryPath]
    const done = new Set<string>()
    while (queue.length > 0) {
      const file = queue.pop()!
      if (done.has(file)) continue
      done.add(file)
      const source = await readFile(file, 'utf8')
      const { output, imports } = transpile(file, source)
      queue.push(...imports)
      const target = outputPath(dir, file)
      await mkdir(path.dirname(target), { recursive: true })
      await writeFile(target, output)
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  return {
    url: pathToFileURL(outputPath(dir, entryPath)).href,
    dir,
    dispose: () => rm(dir, { recursive: true, force: true }),
  }
}

/** Where a source file's module goes: its absolute path under `dir`, so relative imports still meet. */
function outputPath(dir: string, file: string): string {
  return path.join(dir, `${file.replace(/\.(ts|js|mjs)$/, '')}.mjs`)
}

/** One file to JavaScript, with its imports rewritten, and the local files it imports. */
function transpile(file: string, source: string): { output: string; imports: string[] } {
  const imports: string[] = []
  const where = path.relative(process.cwd(), file) || file
  const rewrite = (specifier: string): string => {
    const module = moduleName(specifier)
    if (module in MODULE_FILES) return pathToFileURL(path.join(MODULES_DIR, MODULE_FILES[module]!)).href
    if (specifier.startsWith('./') || specifier.startsWith('../')) {
      const resolved = path.resolve(path.dirname(file), specifier)
      if (!/\.(ts|js|mjs)$/.test(resolved) || !existsSync(resolved))
        throw new K6ScriptError(`${where} imports "${specifier}": no such .ts or .js file at ${resolved}`)
      imports.push(resolved)
      return specifier.replace(/\.(ts|js|mjs)$/, '.mjs')
    }
    throw new K6ScriptError(
      `${where} imports "${specifier}", which does not run here: the built-in engine provides ${Object.keys(SUPPORTED_API).join(', ')} and relative files (run it with a real k6: --engine k6)`,
    )
  }
  const result = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: COMPILER_OPTIONS,
    reportDiagnostics: true,
    // After type erasure: only the imports the JavaScript keeps are looked at.
    transformers: { after: [(context) => (node) => rewriteModule(node, context, rewrite, where)] },
  })
  const errors = (result.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error)
  if (errors.length > 0)
    throw new K6ScriptError(
      `${where} does not parse: ${ts.flattenDiagnosticMessageText(errors[0]!.messageText, '\n')}`,
    )
  return { output: result.outputText, imports }
}

/** Rewrites the module specifiers of a file and refuses k6 exports outside the subset. */
function rewriteModule(
  file: TypeScript.SourceFile,
  context: TypeScript.TransformationContext,
  rewrite: (specifier: string) => string,
  where: string,
): TypeScript.SourceFile {
  const { factory } = context
  // Local names bound to a whole k6 module (default or namespace import): their property uses are checked.
  const moduleBindings = new Map<string, string>()
  const refuse = (module: string, name: string) => {
    throw new K6ScriptError(
      `${where} uses ${name} from ${module}, which does not run here (${module} provides ${SUPPORTED_API[module]!.join(', ')})`,
    )
  }
  const visit = (node: TypeScript.Node): TypeScript.Node => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const specifier = node.moduleSpecifier.text
      const module = moduleName(specifier)
      const clause = node.importClause
      if (module in SUPPORTED_API && clause) {
        if (clause.name) moduleBindings.set(clause.name.text, module)
        const bindings = clause.namedBindings
        if (bindings && ts.isNamespaceImport(bindings)) moduleBindings.set(bindings.name.text, module)
        if (bindings && ts.isNamedImports(bindings))
          for (const element of bindings.elements) {
            const imported = (element.propertyName ?? element.name).text
            if (imported !== 'default' && !SUPPORTED_API[module]!.includes(imported)) refuse(module, imported)
            if (imported === 'default') moduleBindings.set(element.name.text, module)
          }
      }
      return factory.updateImportDeclaration(
        node,
        node.modifiers,
        node.importClause,
        factory.createStringLiteral(rewrite(specifier)),
        node.attributes,
      )
    }
    if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      return factory.updateExportDeclaration(
        node,
        node.modifiers,
        node.isTypeOnly,
        node.exportClause,
        factory.createStringLiteral(rewrite(node.moduleSpecifier.text)),
        node.attributes,
      )
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      throw new K6ScriptError(`${where} uses a dynamic import(): k6 scripts import statically`)
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      moduleBindings.has(node.expression.text)
    ) {
      const module = moduleBindings.get(node.expression.text)!
      if (!SUPPORTED_API[module]!.includes(node.name.text)) refuse(module, node.name.text)
    }
    return ts.visitEachChild(node, visit, context)
  }
  return ts.visitEachChild(file, visit, context)
}
