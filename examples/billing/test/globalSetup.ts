import { globalSetup } from "@redrive/database/testing"
import { source } from "../src/migrations.js"

export default globalSetup({ migrations: [source] })
