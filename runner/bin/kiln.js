#!/usr/bin/env node
// Launcher for the `kiln` bin: registers tsx so the TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
