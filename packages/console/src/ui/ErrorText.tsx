import type { ApiFailure } from "../api.js"

/** A failed load, in the page. */
export const ErrorText = (props: { readonly error: ApiFailure | undefined }) =>
  props.error === undefined ? null : <p className="error" role="alert">{props.error.message}</p>
