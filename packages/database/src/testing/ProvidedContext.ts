/** What the global setup hands every test file (vitest's provide/inject). */
declare module "vitest" {
  export interface ProvidedContext {
    redriveAdminUrl: string
    redriveTemplate: string
  }
}

export {}
