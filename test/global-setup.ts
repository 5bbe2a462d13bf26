import { execFileSync } from 'node:child_process';

/** The CLI runs from dist/: build once before the tests that spawn it. */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
