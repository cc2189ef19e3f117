// The dashboard's entry: mounts the app into index.html's <div id="app">.
import { h, render } from 'preact';
import { App } from './app.js';
import './style.css';

render(h(App, null), document.getElementById('app')!);
