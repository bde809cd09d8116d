export * as ErrorClass from "./ErrorClass.js"
