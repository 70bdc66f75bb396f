export * from './api';
export * from './events';
export * from './frames';
export * from './limits';
export * from './project';
export * from './reducer';
export * from './state';
export * from './tool-output';
