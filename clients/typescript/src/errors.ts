import type { ErrorType } from './generated/types.js'

/** An error the roost server answered: its type, sentence, HTTP status and details. */
export class RoostApiError extends Error {
  readonly type: ErrorType | string
  readonly status: number
  readonly details?: unknown

  constructor(init: { type: ErrorType | string; message: string; status: number; details?: unknown }) {
    super(init.message)
    this.name = 'RoostApiError'
    this.type = init.type
    this.status = init.status
    this.details = init.details
  }
}

/** The server could not be reached, or answered something that is not roost's. */
export class RoostConnectionError extends Error {
  readonly cause?: unknown

  constructor(message: string, cause?: unknown) {
    super(message)
    this.name = 'RoostConnectionError'
    this.cause = cause
  }
}
