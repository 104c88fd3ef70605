import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread on the module at `url`: a built .js module as it is; a .ts module (the
 * caller runs from source under tsx: tests, `node --import tsx`) through tsx's loader,
 * which a worker thread does not inherit from `--import tsx`.
 */
export function startWorker(url: URL, options: WorkerOptions = {}): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { ...options, eval: true });
}

/** The URL of the module `name` (without extension) beside the module at `base`, in the same form (.ts from source, .js built). */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
