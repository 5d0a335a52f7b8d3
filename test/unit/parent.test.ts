import { describe, expect, it } from 'vitest';
import { inheritedParentPid, markAsParent, PARENT_PID_VAR, unmarkAsParent } from '../../src/parent';

const ME = 4242;

describe('the guarded parent, through one inherited variable', () => {
  it.each([
    ['no variable: no guarded parent', {}, undefined],
    ['empty: no guarded parent', { [PARENT_PID_VAR]: '' }, undefined],
    ['another pid: that process is the guarded parent', { [PARENT_PID_VAR]: '17' }, '17'],
    ['its own pid: a mark of its own, not a parent', { [PARENT_PID_VAR]: String(ME) }, undefined],
  ])('%s', (_what, env: NodeJS.ProcessEnv, want) => {
    expect(inheritedParentPid(env, ME)).toBe(want);
  });

  it('marks the environment for children, then puts back what it inherited', () => {
    const env: NodeJS.ProcessEnv = { [PARENT_PID_VAR]: '17' };
    const inherited = inheritedParentPid(env, ME);
    markAsParent(env, ME);
    expect(env[PARENT_PID_VAR]).toBe(String(ME));
    unmarkAsParent(env, ME, inherited);
    expect(env).toEqual({ [PARENT_PID_VAR]: '17' });
  });

  it('removes the variable when it inherited none', () => {
    const env: NodeJS.ProcessEnv = {};
    markAsParent(env, ME);
    unmarkAsParent(env, ME, inheritedParentPid({}, ME));
    expect(PARENT_PID_VAR in env).toBe(false);
  });

  it('leaves a value the app set since alone', () => {
    const env: NodeJS.ProcessEnv = {};
    markAsParent(env, ME);
    env[PARENT_PID_VAR] = 'app-owned';
    unmarkAsParent(env, ME, undefined);
    expect(env[PARENT_PID_VAR]).toBe('app-owned');
  });
});
